"""Leak-tracing benchmark: simulated insiders, leaked files with noise, how often the true source is
ranked first (docs/benchmarks.md, "Watch: leak tracing"). `custos bench watch` calls

    run_scenarios(scenarios=100, seed=1, history_rows=2_000_000)
      -> {"scenarios", "top1", "top3", "trace_seconds", …}

A world of its own (no database): policies with one applicant each, agents with portfolios of
varied size grouped by team and branch, bank outlets selling through bancassurance agents; 90 days
of reads written straight into an encrypted, day-partitioned history like the store's (a temporary
directory, not CUSTOS_HOME's history): agents reading their own customers, customer service working
its branch's queue, managers browsing their teams, operations, a nightly reporting account exporting
the whole book. One insider per scenario harvests in one of five styles:

- ``bulk``      customer service or operations reads customers outside its portfolio in a few days
- ``drift``     an agent reads its whole portfolio slowly over weeks
- ``export``    a staff member exports a list (core system), or receives a custos extraction with
                canaries (kept in memory; its rows are the recipient's "extract" reads, as the audit
                export would add them — the extraction or its recipient counts as the true source)
- ``partner``   a bank outlet leaks what it sold (no reads)
- ``shared``    one of a team of five working a shared list reads all of it, the others their share

Each leak is 100 to 200,000 rows (as the world allows: at most a quarter of the book) of the
harvested customers, written as CSV (UTF-8 or GB18030) or XLSX with random column names and order,
masked values, a column missing, foreign people and a few customers from elsewhere mixed in, and
traced with the same reader, matcher and ranking as `custos trace`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from custos.crypto import snapshot
from custos.watch.tracing import engine, leakfile
from custos.watch.tracing.matching import PARTY_SCHEMA

DAYS = 90
START = dt.date(2026, 1, 5)
STYLES = ("bulk", "drift", "export", "partner", "shared")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志文辉力永新海峰晨瑞雪琳晶佳颖欣怡思雨婷嘉子梓轩博睿诗涵可馨"
MOBILE_PREFIXES = ["134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182",
                   "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180",
                   "181", "189", "177", "199"]  # fmt: skip
HEADERS = {
    "name": ["姓名", "客户姓名", "name", "投保人姓名", "客户"],
    "mobile": ["手机", "手机号", "联系电话", "mobile", "手机号码"],
    "id_no": ["身份证号", "证件号码", "id_no", "身份证号码", "证件号"],
}


ROLES = ("seller", "queue", "lead", "backoffice", "batch")
PREFIX = {"seller": "A", "queue": "C", "lead": "M", "backoffice": "O", "batch": "R"}
WEIGHT = {"seller": 1.0, "queue": 3.0, "lead": 1.5, "backoffice": 1.0, "batch": 0.0}


def pno(i: int) -> str:
    """Policy numbers of the simulated book: 10 digits (DuckDB writes them as a cast of an integer,
    several times faster than formatting)."""
    return str(1_000_000_000 + i)


@dataclass
class World:
    n_pol: int
    names: list[str]
    ids: list[str]
    mobiles: list[str]
    staff: list[str]  # staff numbers; index = staff id
    role: list[str]
    lo: list[int]  # each staff member's range of policies: portfolio (agents), team, branch, book
    hi: list[int]
    agents: list[int]
    partners: list[tuple[str, int, int]]  # (code, lo, hi): the policies each outlet sold
    branches: list[tuple[int, int]]


@dataclass
class Scenario:
    style: str
    truth: set[tuple[str, str]]  # acceptable (kind, id)
    harvested: list[int]  # policy indices
    extraction: engine.ExtractionSource | None = None
    canary_people: list[tuple[str, str, str]] = field(default_factory=list)


def people(n: int, rng: random.Random, region_base: int = 110101) -> tuple[list, list, list]:
    """n distinct people: names, ID numbers and mobiles (distinct by construction)."""
    perm = list(range(n))
    rng.shuffle(perm)
    regions = [str(region_base + 100 * k) for k in range(300)]
    base = dt.date(1950, 1, 1).toordinal()
    names, ids, mobiles = [], [], []
    off = rng.randrange(10**7)
    for p in perm:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + ("" if rng.random() < 0.3 else rng.choice(GIVEN))
        names.append(name)
        b = dt.date.fromordinal(base + rng.randrange(365 * 50))
        ids.append(f"{regions[p % 300]}{b:%Y%m%d}{(p // 300) % 1000:03d}{(p // 300_000) % 10}")
        mobiles.append(f"{MOBILE_PREFIXES[p % 30]}{(p // 30 * 7919 + off) % 100_000_000:08d}")
    return names, ids, mobiles


def make_world(n_pol: int, n_staff: int, rng: random.Random) -> World:
    names, ids, mobiles = people(n_pol, rng)
    n_branch = max(4, n_staff // 200)
    roles = sorted(
        rng.choices(ROLES[:4], weights=[0.62, 0.15, 0.06, 0.17], k=n_staff - 1), key=ROLES.index
    ) + ["batch"]
    agents = [i for i, r in enumerate(roles) if r == "seller"]
    raw = [max(0.2, rng.lognormvariate(0, 0.9)) for _ in agents]
    total = sum(raw)
    sizes = [max(5, int(x / total * n_pol)) for x in raw]
    lo, hi = [0] * n_staff, [n_pol] * n_staff
    x = 0
    for a, size in zip(agents, sizes, strict=True):
        lo[a], hi[a] = x, min(n_pol, x + size)
        x = hi[a]
    hi[agents[-1]] = n_pol
    cuts = [round(b * len(agents) / n_branch) for b in range(n_branch + 1)]
    branches = [(lo[agents[cuts[b]]], hi[agents[cuts[b + 1] - 1]]) for b in range(n_branch)]
    managers = [i for i, r in enumerate(roles) if r == "lead"]
    per = max(1, math.ceil(len(agents) / max(1, len(managers))))
    for k, m in enumerate(managers):
        team = agents[k * per : (k + 1) * per] or agents[-1:]
        lo[m], hi[m] = lo[team[0]], hi[team[-1]]
    for k, s in enumerate(i for i, r in enumerate(roles) if r in ("queue", "backoffice")):
        lo[s], hi[s] = branches[k % n_branch]
    partners = []
    for a in agents:
        if rng.random() < 0.2:
            x, y = lo[a], hi[a]
            while y - x >= 100:
                # an account manager serves several outlets: none takes the whole portfolio
                step = min(y - x, rng.randrange(100, max(101, min(3000, (hi[a] - lo[a]) * 2 // 3))))
                partners.append((f"BK{len(partners):05d}", x, x + step))
                x += step
    staff = [f"{PREFIX[r]}{i:06d}" for i, r in enumerate(roles)]
    return World(n_pol, names, ids, mobiles, staff, roles, lo, hi, agents, partners, branches)


# --- history ----------------------------------------------------------------------------------------


class History:
    """The history generated by DuckDB straight into encrypted day partitions under `root` (the
    store's layout, ``day=YYYY-MM-DD/*.parquet``, and encryption): one COPY … PARTITION_BY (day), no
    CSV, no ingest."""

    def __init__(self, root: Path, w: World):
        self.root = root
        self.rows = 0
        self.extra: list[tuple[int, str, int, str]] = []  # (day, staff_no, policy, action)
        self.w = w

    def add(self, day: int, staff: str, pols, action: str = "view") -> None:
        self.extra.extend((day, staff, p, action) for p in pols)

    def spread(self, staff: str, pols: list[int], first: int, days: int, action: str = "view") -> None:
        days = max(1, days)
        for d in range(days):
            self.add(first + d, staff, pols[d::days], action)

    def write(self, rates: pa.Table, report_days: list[int]) -> None:
        con = snapshot.writer_connection()
        try:
            con.execute("SET memory_limit = '3GB'")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")
            key = snapshot.begin(self.root, con)
            con.register("t_rates", rates)
            con.register("t_report_days", pa.table({"day": pa.array(report_days, pa.int64())}))
            con.register(
                "t_extra",
                pa.table(
                    {
                        "day": pa.array([e[0] for e in self.extra], pa.int64()),
                        "staff_no": pa.array([e[1] for e in self.extra], pa.string()),
                        "p": pa.array([e[2] for e in self.extra], pa.int64()),
                        "action": pa.array([e[3] for e in self.extra], pa.string()),
                    }
                ),
            )
            reporting = [self.w.staff[i] for i, r in enumerate(self.w.role) if r == "batch"]
            con.register("t_reporting", pa.table({"staff_no": reporting}))
            sql = f"""
            WITH work AS (
              SELECT day, staff_no, lo + hash(sid, day, i, 1) % (hi - lo) AS p, 'view' AS action,
                     (8 * 3600 + hash(sid, day, i, 2) % (11 * 3600))::BIGINT AS sec
              FROM (SELECT d.range AS day, sid, staff_no, lo, hi,
                           unnest(range(CAST(rate * (0.5 + (hash(sid, d.range) % 1000) / 1000.0) AS BIGINT))) AS i
                    FROM t_rates, range({DAYS}) d)
            ), nightly AS (
              SELECT rd.day, r.staff_no, p.range AS p, 'export' AS action, (hash(p.range, rd.day) % (4 * 3600))::BIGINT AS sec
              FROM t_report_days rd, t_reporting r, range({self.w.n_pol}) p
            ), insiders AS (
              SELECT day, staff_no, p, action, (9 * 3600 + hash(staff_no, p, day) % (9 * 3600))::BIGINT AS sec FROM t_extra
            ), reads AS (SELECT * FROM work UNION ALL SELECT * FROM nightly UNION ALL SELECT * FROM insiders)
            SELECT NULL::VARCHAR AS row_key,
                   (DATE '{START.isoformat()}' + day::INTEGER + to_seconds(sec) - INTERVAL 8 HOUR)::TIMESTAMPTZ AS "at",
                   (DATE '{START.isoformat()}' + day::INTEGER + to_seconds(sec))::TIMESTAMP AS at_local,
                   'core' AS system, staff_no, '' AS partner_code, action,
                   CAST(1000000000 + p AS VARCHAR) AS policy_no, NULL::VARCHAR AS query, 1::BIGINT AS rows,
                   NULL::VARCHAR AS terminal, true AS known, 'bench' AS source,
                   DATE '{START.isoformat()}' + day::INTEGER AS day
            FROM reads"""
            opts = snapshot.copy_options(key, "PARTITION_BY (day), OVERWRITE_OR_IGNORE true")
            written = con.execute(f"COPY ({sql}) TO '{self.root}' {opts}").fetchone()
            self.rows = int(written[0]) if written else 0
        finally:
            con.close()

    def source(self, con) -> str:
        files = sorted(str(p) for p in self.root.glob("day=*/*.parquet"))
        key = snapshot.add_key(con, self.root)
        listing = "[" + ", ".join("'" + f + "'" for f in files) + "]"
        return (
            f"read_parquet({listing}, hive_partitioning = true, hive_types = {{'day': DATE}}, "
            f"encryption_config = {{footer_key: '{key}'}})"
        )


def write_history(w: World, hist: History, budget: int) -> None:
    reporting = [i for i, r in enumerate(w.role) if r == "batch"]
    nightly = max(1, min(DAYS, int(0.25 * budget / max(w.n_pol * len(reporting), 1))))
    report_days = sorted({round(k * (DAYS - 1) / max(1, nightly - 1)) for k in range(nightly)})
    per_day = max(0, budget - nightly * w.n_pol * len(reporting) - len(hist.extra)) / DAYS
    weights = [WEIGHT[r] for r in w.role]
    total = sum(weights)
    rows = [
        (i, w.staff[i], w.lo[i], hi, weights[i] / total * per_day)
        for i in range(len(w.staff))
        if weights[i] > 0
        # agents read a working set of their portfolio, not all of it: a quarter, at least 5
        for hi in [
            min(w.hi[i], w.lo[i] + max(5, (w.hi[i] - w.lo[i]) // 4)) if w.role[i] == "seller" else w.hi[i]
        ]
    ]
    rates = pa.table(
        {
            "sid": pa.array([r[0] for r in rows], pa.int64()),
            "staff_no": [r[1] for r in rows],
            "lo": pa.array([r[2] for r in rows], pa.int64()),
            "hi": pa.array([r[3] for r in rows], pa.int64()),
            "rate": pa.array([r[4] for r in rows], pa.float64()),
        }
    )
    hist.write(rates, report_days)


# --- scenarios --------------------------------------------------------------------------------------


def plan(w: World, hist: History, n: int, max_leak: int, rng: random.Random) -> list[Scenario]:
    """Insiders and what they harvest, added to the history's days before they are written."""
    out: list[Scenario] = []
    used: set[int] = set()
    cs_ops = [i for i, r in enumerate(w.role) if r in ("queue", "backoffice")]
    big_agents = [a for a in w.agents if w.hi[a] - w.lo[a] >= 120]

    def pick(pool):
        free = [x for x in pool if x not in used] or pool
        s = rng.choice(free)
        used.add(s)
        return s

    ext_id = 1000
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        size = int(min(max_leak, math.exp(rng.uniform(math.log(120), math.log(max(130, max_leak))))))
        if style == "bulk" or (style == "drift" and not big_agents):
            s = pick(cs_ops)
            pols = rng.sample(range(w.n_pol), size)
            hist.spread(w.staff[s], pols, rng.randrange(10, 80), rng.randrange(1, 4))
            out.append(Scenario("bulk", {("staff", w.staff[s])}, pols))
        elif style == "drift":
            a = pick(big_agents)
            pols = list(range(w.lo[a], w.hi[a]))
            rng.shuffle(pols)
            hist.spread(w.staff[a], pols, rng.randrange(5, 40), rng.randrange(28, 43))
            out.append(Scenario("drift", {("staff", w.staff[a])}, pols))
        elif style == "export":
            s = pick(cs_ops)
            b0, b1 = rng.choice(w.branches)
            k = min(size, b1 - b0)
            start = rng.randrange(b0, b1 - k + 1)
            pols = list(range(start, start + k))
            day = rng.randrange(5, 85)
            if i % 2:
                hist.add(day, w.staff[s], pols, "export")
                out.append(Scenario("export", {("staff", w.staff[s])}, pols))
            else:  # a custos extraction: its rows are the recipient's "extract" reads
                ext_id += 1
                hist.add(day, w.staff[s], pols, "extract")
                policies = frozenset(pno(p) for p in pols)
                e = engine.ExtractionSource(id=ext_id, recipient=w.staff[s], recipient_staff_no=w.staff[s],
                                            size=len(policies), policies=policies)  # fmt: skip
                sc = Scenario("extraction", {("extraction", str(ext_id)), ("staff", w.staff[s])}, pols, e)
                if (
                    rng.random() < 0.5
                ):  # the other half: the leaker stripped the canaries, or they were not taken
                    cn, ci, cm = people(3, random.Random(ext_id), region_base=510101)
                    sc.canary_people = list(zip(cn, ci, cm, strict=True))
                out.append(sc)
        elif style == "partner":
            code, x, y = rng.choice(w.partners)
            out.append(Scenario("partner", {("partner", code)}, list(range(x, y))))
        else:  # a team of five works a shared list; the insider reads all of it
            team = rng.sample(cs_ops, 5)
            s = team[0]
            used.add(s)
            b0, b1 = rng.choice(w.branches)
            pols = rng.sample(range(b0, b1), min(size, b1 - b0))
            first = rng.randrange(5, 70)
            for j, member in enumerate(team):
                hist.spread(w.staff[member], pols[j::5], first, 14)
            hist.spread(w.staff[s], pols, first + 3, 10)
            out.append(Scenario("shared", {("staff", w.staff[s])}, pols))
    return out


def _mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 2) + name[-1] if len(name) > 2 else name[0] + "*"


def write_leak(w: World, sc: Scenario, folder: Path, rng: random.Random, max_leak: int) -> Path:
    """The leaked file of a scenario: 60–100 % of what was harvested (100 to max_leak rows), foreign
    people and a few other customers mixed in, masked values, maybe a column missing."""
    pols = sc.harvested
    n = int(min(max_leak, len(pols), max(100, len(pols) * rng.uniform(0.6, 1.0))))
    chosen = rng.sample(pols, n)
    rows = [(w.names[p], w.ids[p], w.mobiles[p]) for p in chosen]
    fn, fi, fm = people(int(len(rows) * rng.uniform(0.05, 0.2)), rng, region_base=610101)
    rows += list(zip(fn, fi, fm, strict=True))
    rows += [
        (w.names[p], w.ids[p], w.mobiles[p]) for p in (rng.randrange(w.n_pol) for _ in range(max(1, n // 50)))
    ]
    rows += sc.canary_people
    rng.shuffle(rows)
    cols = ["name", "id_no", "mobile"]
    if rng.random() < 0.3:
        cols.remove(rng.choice(["id_no", "mobile"]))
    rng.shuffle(cols)
    header = [rng.choice(HEADERS[c]) for c in cols]
    out = []
    for name, id_no, mobile in rows:
        x = rng.random()
        if x < 0.4:
            vals = {"name": name, "id_no": id_no, "mobile": mobile}
        elif x < 0.65:
            vals = {"name": _mask_name(name), "id_no": "", "mobile": mobile[:3] + "****" + mobile[7:]}
        elif x < 0.8:
            vals = {"name": "", "id_no": id_no[:6] + "********" + id_no[14:], "mobile": ""}
        elif x < 0.9:
            vals = {"name": _mask_name(name), "id_no": id_no[:4] + "*" * 10 + id_no[14:], "mobile": ""}
        else:
            vals = {"name": "", "id_no": "", "mobile": mobile}
        out.append([vals[c] for c in cols])
    if len(out) <= 5000 and rng.random() < 0.2:
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("名单")
        ws.append(header)
        for r in out:
            ws.append(r)
        path = folder / "leak.xlsx"
        wb.save(path)
        return path
    path = folder / "leak.csv"
    with open(path, "w", encoding="gb18030" if rng.random() < 0.5 else "utf-8", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        wr.writerows(out)
    return path


def _parties(w: World) -> pa.Table:
    return pa.table(
        {
            "pk": pa.array(range(w.n_pol), pa.int64()),
            "policy_no": [pno(i) for i in range(w.n_pol)],
            "name": w.names,
            "id_no": w.ids,
            "mobile": w.mobiles,
            "birth_date": pa.nulls(w.n_pol, pa.string()),
        },
        schema=PARTY_SCHEMA,
    )


def _policies(con, w: World) -> str:
    con.register(
        "t_bench_outlets",
        pa.table(
            {
                "code": [p[0] for p in w.partners],
                "lo": pa.array([p[1] for p in w.partners], pa.int64()),
                "hi": pa.array([p[2] for p in w.partners], pa.int64()),
            }
        ),
    )
    con.execute(
        f"""CREATE TEMP TABLE t_bench_policies AS
            SELECT CAST(1000000000 + r.range AS VARCHAR) AS policy_no, coalesce(o.code, '') AS partner_code
            FROM range({w.n_pol}) r LEFT JOIN t_bench_outlets o ON r.range >= o.lo AND r.range < o.hi"""
    )
    return "t_bench_policies"


def run_scenarios(scenarios: int, seed: int, history_rows: int, *, progress=None) -> dict:
    """Simulate, trace `scenarios` leaks over a history of about `history_rows` reads, and measure.
    `trace_seconds`: the median time of one trace (read the file, match, rank) over that history."""
    report = progress or (lambda _msg: None)
    rng = random.Random(seed)
    n_pol = max(50_000, history_rows // 100)
    n_staff = int(min(10_000, max(400, history_rows // 5000)))
    max_leak = int(min(200_000, n_pol // 4))
    tmp = Path(tempfile.mkdtemp(prefix="custos-trace-bench-"))
    t0 = time.perf_counter()
    try:
        w = make_world(n_pol, n_staff, rng)
        hist = History(tmp / "history", w)
        cases = plan(w, hist, scenarios, max_leak, rng)
        report(f"world: {n_pol} policies, {n_staff} staff, {len(w.partners)} outlets; writing the history")
        write_history(w, hist, history_rows)
        gen_seconds = time.perf_counter() - t0
        report(f"history: {hist.rows} rows in {gen_seconds:.0f} s")
        con = snapshot.offline_connect()
        snapshot.load_full_crypto(con)
        policies = _policies(con, w)
        parties = _parties(w)
        src = hist.source(con)
        exts = [c.extraction for c in cases if c.extraction is not None]
        top1 = top3 = 0
        times, cpu, by_style, leak_rows = [], [], {}, []
        for k, sc in enumerate(cases):
            folder = tmp / f"leak-{k}"
            folder.mkdir()
            path = write_leak(w, sc, folder, rng, max_leak)
            t, c = time.perf_counter(), time.process_time()
            leak = leakfile.read(path)
            canary_ids = {c[1] for c in sc.canary_people}
            found = [(j, ["id_no"]) for j, r in enumerate(r for r in leak.records if r.id_no in canary_ids)]
            sources = [
                engine.ExtractionSource(
                    id=e.id,
                    recipient=e.recipient,
                    recipient_staff_no=e.recipient_staff_no,
                    size=e.size,
                    policies=e.policies,
                    canaries=found if e is sc.extraction else [],
                )  # fmt: skip
                for e in exts
            ]
            out = engine.run(con, leak, parties=parties, history=src, policies=policies, extractions=sources,
                             universe=w.n_pol)  # fmt: skip
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            ranked = [(s.kind, s.id) for s in out.suspects[:3]]
            ok1 = bool(ranked) and ranked[0] in sc.truth
            ok3 = any(r in sc.truth for r in ranked)
            top1 += ok1
            top3 += ok3
            st = by_style.setdefault(sc.style, {"n": 0, "top1": 0, "top3": 0})
            st["n"] += 1
            st["top1"] += ok1
            st["top3"] += ok3
            leak_rows.append(leak.rows)
            report(
                f"scenario {k + 1}/{len(cases)} {sc.style}: {leak.rows} rows, {out.matched} matched, "
                f"{times[-1]:.1f} s, {'ok' if ok1 else f'MISSED (truth {sorted(sc.truth)}, top {ranked})'}"
            )
            shutil.rmtree(folder, ignore_errors=True)
        con.close()
        n = max(len(cases), 1)
        return {
            "scenarios": len(cases),
            "top1": round(top1 / n, 4),
            "top3": round(top3 / n, 4),
            "trace_seconds": round(statistics.median(times), 2) if times else 0.0,
            "trace_seconds_max": round(max(times), 2) if times else 0.0,
            # CPU seconds of the process (DuckDB's threads included): what a trace costs on a loaded machine
            "trace_cpu_seconds": round(statistics.median(cpu), 2) if cpu else 0.0,
            "history_rows": hist.rows,
            "policies": n_pol,
            "staff": n_staff,
            "leak_rows_min": min(leak_rows, default=0),
            "leak_rows_max": max(leak_rows, default=0),
            "by_style": by_style,
            "generate_seconds": round(gen_seconds, 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
