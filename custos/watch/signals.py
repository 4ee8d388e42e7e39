"""Unusual access, per staff member and day: features of the day's reads (DuckDB over the history),
robust z-scores against the reader's own baseline and their peer group's day, a CUSUM for slow drift,
and the score that makes an alert (docs/watch.md, "Signals")."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from custos.watch import book, conf, store

# count features with an own-baseline z: (name, feature, min setting, z setting)
COUNT_SIGNALS = (
    ("outside_portfolio", "outside", "outside_min", "outside_z"),
    ("outside_branch", "outside_branch", "outside_branch_min", "outside_branch_z"),
    ("off_hours", "offhours", "offhours_min", "offhours_z"),
    ("partial_search", "partial", "partial_min", "partial_z"),
    ("export", "exported", "export_min", "export_z"),
    ("sequential", "seq_run", "sequence_min", "sequence_z"),
    ("burst", "burst", "burst_min", "burst_z"),
)
# volume features: z against own baseline and peers, both must exceed
PEER_SIGNALS = (
    ("volume", "reads", "volume_min", "volume_z"),
    ("distinct_customers", "distinct_customers", "distinct_min", "distinct_z"),
)
FEATURES = (
    "reads",
    "distinct_customers",
    "outside",
    "outside_branch",
    "offhours",
    "partial",
    "exported",
    "seq_run",
    "burst",
)
SIGNAL_NAMES = tuple(s[0] for s in PEER_SIGNALS + COUNT_SIGNALS) + ("drift", "canary")


@dataclass
class DayAlert:
    staff_no: str
    day: dt.date
    score: float
    signals: list[dict] = field(default_factory=list)

    @property
    def canary(self) -> bool:
        return any(s["name"] == "canary" for s in self.signals)

    def as_json(self) -> dict:
        return {
            "staff_no": self.staff_no,
            "day": self.day.isoformat(),
            "score": round(self.score, 3),
            "signals": self.signals,
        }


def _features_sql(enriched: str, day_from: dt.date, day_to: dt.date) -> str:
    start, end = int(conf.get("office_start")), int(conf.get("office_end"))
    bdays = int(conf.get("baseline_days"))
    burst_s = int(conf.get("burst_minutes")) * 60
    lag, win = int(conf.get("drift_lag_days")), int(conf.get("drift_window_days"))
    meds = []
    for f in (*FEATURES, "novel"):
        meds.append(f"median({f}) OVER own AS {f}_med, mad({f}) OVER own AS {f}_mad")
        meds.append(f"median({f}) OVER peer AS {f}_pmed, mad({f}) OVER peer AS {f}_pmad")
    return f"""
    WITH e AS ({enriched}),
    firsts AS (
      SELECT staff_no, policy_no, min(day) AS first_day FROM e WHERE policy_no <> '' GROUP BY ALL
    ),
    runs AS (
      SELECT staff_no, day, max(n) AS seq_run FROM (
        SELECT staff_no, day, prefix, g, count(*) AS n FROM (
          SELECT staff_no, day, prefix, num - row_number() OVER (PARTITION BY staff_no, day, prefix ORDER BY num) AS g
          FROM (SELECT DISTINCT staff_no, day, regexp_extract(policy_no, '^(.*?)([0-9]+)$', 1) AS prefix,
                       TRY_CAST(regexp_extract(policy_no, '([0-9]+)$', 1) AS BIGINT) AS num
                FROM e WHERE policy_no <> '' AND day BETWEEN DATE '{day_from}' - INTERVAL {lag + win} DAY AND DATE '{day_to}')
          WHERE num IS NOT NULL
        ) GROUP BY ALL
      ) GROUP BY ALL
    ),
    bursts AS (
      SELECT staff_no, day, max(n) AS burst FROM (
        SELECT staff_no, day, count(DISTINCT policy_no) AS n FROM (
          SELECT staff_no, day, policy_no, epoch(at_local) AS t FROM e
          WHERE action IN ('view', 'search') AND policy_no <> ''
            AND day BETWEEN DATE '{day_from}' - INTERVAL {lag + win} DAY AND DATE '{day_to}'
        ), (VALUES (0), (1)) AS h(half)
        GROUP BY staff_no, day, half, floor((t + half * {burst_s // 2}) / {burst_s})
      ) GROUP BY ALL
    ),
    daily AS (
      SELECT e.staff_no, e.day,
        any_value(position) AS position, any_value(peer_group) AS peer_group,
        count(*) AS reads,
        count(DISTINCT policy_no) FILTER (policy_no <> '') AS distinct_customers,
        count(DISTINCT policy_no) FILTER (own = false) AS outside,
        count(DISTINCT policy_no) FILTER (in_branch = false) AS outside_branch,
        count(*) FILTER (hour(at_local) < {start} OR hour(at_local) >= {end}) AS offhours,
        count(*) FILTER (action = 'search' AND (regexp_matches(query, '[*?%＊]')
                          OR (regexp_matches(query, '^[0-9Xx]{{4,17}}$') AND length(query) <> 11))) AS partial,
        greatest(count(DISTINCT policy_no) FILTER (action IN ('print', 'export')),
                 coalesce(max(rows) FILTER (action IN ('print', 'export')), 0)) AS exported,
        count(DISTINCT policy_no) FILTER (canary) AS canary,
        bool_or(known) AS known
      FROM e
      WHERE e.day BETWEEN DATE '{day_from}' - INTERVAL {lag + win} DAY AND DATE '{day_to}'
      GROUP BY ALL
    ),
    novel AS (
      SELECT staff_no, first_day AS day, count(*) AS novel FROM firsts GROUP BY ALL
    ),
    feats AS (
      SELECT d.*, coalesce(r.seq_run, 0) AS seq_run, coalesce(b.burst, 0) AS burst, coalesce(n.novel, 0) AS novel,
             min(d.day) OVER (PARTITION BY d.staff_no) AS first_seen
      FROM daily d
      LEFT JOIN runs r USING (staff_no, day)
      LEFT JOIN bursts b USING (staff_no, day)
      LEFT JOIN novel n USING (staff_no, day)
    )
    SELECT *,
      {", ".join(meds)},
      count(*) OVER own AS own_days,
      count(*) OVER peer AS peer_days,
      median(novel) OVER lagged AS novel_lmed, mad(novel) OVER lagged AS novel_lmad,
      median(distinct_customers) OVER lagged AS distinct_lmed, mad(distinct_customers) OVER lagged AS distinct_lmad,
      count(*) OVER lagged AS lagged_days
    FROM feats
    WINDOW
      own AS (PARTITION BY staff_no ORDER BY day RANGE BETWEEN INTERVAL {bdays} DAY PRECEDING
                                                        AND INTERVAL 1 DAY PRECEDING),
      peer AS (PARTITION BY peer_group, day),
      lagged AS (PARTITION BY staff_no ORDER BY day RANGE BETWEEN INTERVAL {lag + win} DAY PRECEDING
                                                           AND INTERVAL {lag} DAY PRECEDING)
    ORDER BY staff_no, day
    """


def _scale(med, mad) -> float:
    med = float(med or 0)
    return max(1.4826 * float(mad or 0), math.sqrt(max(med, 1.0)), 1.0)


def _z(x, med, mad) -> float:
    return (float(x) - float(med or 0)) / _scale(med, mad)


def features(day_from: dt.date, day_to: dt.date, world=None) -> list[dict]:
    """One dict per staff member and active day in [day_from - baseline window, day_to]; `world`: a
    simulated book instead of the database's (the benchmark)."""
    con = store.connect()
    try:
        book.register(con, world)
        hist = store.source(con, None, day_to)
        cur = con.execute(_features_sql(book.enriched_sql(hist), day_from, day_to))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def evaluate(
    rows: list[dict], day_from: dt.date, day_to: dt.date, factors: dict[str, float] | None = None
) -> list[DayAlert]:
    """The alerts of [day_from, day_to] from feature rows (sorted by staff, day). factors: the
    triage's threshold factors per signal (`tuning.factors()`), 1 when absent."""
    factors = factors or {}
    g = conf.get
    warmup = dt.timedelta(days=int(g("warmup_days")))
    min_days = int(g("baseline_min_days"))
    min_peers = int(g("min_peers"))
    cap = float(g("z_cap"))
    k, h = float(g("drift_k")), float(g("drift_h"))
    alerts: list[DayAlert] = []
    cusum: dict[str, float] = {}
    for r in rows:
        staff, day = r["staff_no"], r["day"]
        warm = day >= r["first_seen"] + warmup
        own_ok = warm and r["own_days"] >= min_days
        fired: list[dict] = []

        def fire(name, value, threshold, fired=fired, **extra):
            fired.append(
                {
                    "name": name,
                    "value": round(float(value), 3),
                    "threshold": round(float(threshold), 3),
                    **extra,
                }
            )

        for name, feat, min_key, z_key in PEER_SIGNALS:
            f = factors.get(name, 1.0)
            x, zt, mn = r[feat], float(g(z_key)) * f, float(g(min_key)) * f
            if x < mn:
                continue
            zs = []
            if own_ok:
                zs.append(_z(x, r[f"{feat}_med"], r[f"{feat}_mad"]))
            if r["peer_days"] >= min_peers:
                zs.append(_z(x, r[f"{feat}_pmed"], r[f"{feat}_pmad"]))
            if zs and min(zs) >= zt:
                fire(name, min(zs), zt, count=x, own_median=r[f"{feat}_med"], peer_median=r[f"{feat}_pmed"])
        for name, feat, min_key, z_key in COUNT_SIGNALS:
            f = factors.get(name, 1.0)
            x, mn, zt = r[feat], float(g(min_key)) * f, float(g(z_key)) * f
            if x < mn:
                continue
            if own_ok:
                z = _z(x, r[f"{feat}_med"], r[f"{feat}_mad"])
                if z >= zt:
                    fire(name, x, mn, z=round(z, 2), own_median=r[f"{feat}_med"])
            elif not warm or r["own_days"] < min_days:
                # no baseline yet: the peers stand in for it
                if r["peer_days"] >= min_peers and _z(x, r[f"{feat}_pmed"], r[f"{feat}_pmad"]) >= zt:
                    fire(name, x, mn, peer_median=r[f"{feat}_pmed"])
        # drift: CUSUM of the larger z of two daily counts — customers read for the first time, and
        # distinct customers — each against the reader's own lagged baseline
        if warm and r["lagged_days"] >= min_days:
            zd = max(
                _z(r["novel"], r["novel_lmed"], r["novel_lmad"]),
                _z(r["distinct_customers"], r["distinct_lmed"], r["distinct_lmad"]),
            )
            s = max(0.0, cusum.get(staff, 0.0) + zd - k)
            hf = h * factors.get("drift", 1.0)
            if s >= hf:
                fire(
                    "drift", s, hf, novel=r["novel"], distinct=r["distinct_customers"],
                    lagged_median=r["distinct_lmed"],
                )  # fmt: skip
                s = 0.0
            cusum[staff] = s
        if r["canary"]:
            fire("canary", r["canary"], 1)
        if not (day_from <= day <= day_to) or not fired:
            continue
        score = 0.0
        for s in fired:
            if s["name"] == "canary":
                score += float(g("canary_score"))
            elif "z" in s:
                score += min(s["z"] / (float(g(_z_key(s["name"]))) * factors.get(s["name"], 1.0)), cap)
            else:
                score += min(s["value"] / s["threshold"], cap) if s["threshold"] else cap
        if score >= float(g("alert_score")):
            alerts.append(DayAlert(staff, day, score, fired))
    return alerts


def _z_key(name: str) -> str:
    for n, _, _, z_key in COUNT_SIGNALS + PEER_SIGNALS:
        if n == name:
            return z_key
    raise KeyError(name)


def compute(
    day_from: dt.date | None = None, day_to: dt.date | None = None, factors=None, world=None
) -> tuple[list[DayAlert], int]:
    """(alerts, active staff-days) of [day_from, day_to] (default: the whole history)."""
    ds = store.days()
    if not ds:
        return [], 0
    day_from = day_from or ds[0]
    day_to = day_to or ds[-1]
    rows = features(day_from, day_to, world)
    active = sum(1 for r in rows if day_from <= r["day"] <= day_to)
    return evaluate(rows, day_from, day_to, factors), active
