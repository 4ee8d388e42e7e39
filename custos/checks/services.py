"""Check a loaded book and keep its findings: the service behind `custos check`, the pages and the API.

    run = run_check()                      # latest successful load, DuckDB, default settings
    run = run_check(load, engine="spark", settings=CheckSettings(...), progress=cb, user=request.user)

The engine reads the load's columnar snapshot and returns every failing (check, policy, role, seq,
field) with the offending value; `custos.checks.lifecycle.reconcile` turns that into opened, kept and
closed findings in one transaction. See docs/findings.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pyarrow as pa
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.book.models import BookLoad, Branch, Party, Policy, branch_subtree
from custos.checks.lifecycle import CheckMeta, normalise, reconcile
from custos.checks.models import CheckRun, Finding
from custos.domain.spreadsheet import neutralise  # the shared cell guard of every export

ENGINES = ("duckdb", "spark")
# PostgreSQL advisory lock key: one reconciliation at a time ("custos" in ASCII).
_LOCK_KEY = 0x637573746F73

Progress = Callable[[float, str], None]


class CheckError(Exception):
    """A check run cannot start or failed; str() is a one-line reason for the user."""


# --- the catalogue and the engine (owned by the check-catalogue engineer) --------------------------


def _import_catalogue():
    # Import the engine package first: catalogue.py imports custos.checks.engine.prepare, whose package
    # imports the catalogue back; entering through the engine resolves that cycle.
    import custos.checks.engine  # noqa: F401
    from custos.checks import catalogue

    return catalogue


def catalogue() -> list:
    CATALOGUE = _import_catalogue().CATALOGUE  # noqa: N806

    return list(CATALOGUE.values()) if isinstance(CATALOGUE, Mapping) else list(CATALOGUE)


def catalogue_by_code() -> dict:
    return {c.code: c for c in catalogue()}


def default_settings():
    return _import_catalogue().CheckSettings()


def enabled_codes(settings, checks: Iterable | None = None) -> list[str]:
    """Codes of the checks that `settings` switches on."""
    codes = [c.code for c in (checks if checks is not None else catalogue())]
    enabled_set = getattr(settings, "enabled", None)
    if isinstance(enabled_set, set | frozenset):  # CheckSettings.enabled
        return [c for c in codes if c in enabled_set]
    for attr in ("enabled_codes", "enabled_checks"):
        value = getattr(settings, attr, None)
        if value is not None:
            value = value() if callable(value) else value
            return [c for c in codes if c in set(value)]
    is_enabled = getattr(settings, "is_enabled", None)
    if callable(is_enabled):
        return [c for c in codes if is_enabled(c)]
    as_dict = settings.as_dict() if hasattr(settings, "as_dict") else dict(settings or {})
    disabled = set(as_dict.get("disabled", ()) or ())
    enabled = as_dict.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        if isinstance(enabled, Mapping):
            return [c for c in codes if enabled.get(c, True) and c not in disabled]
        return [c for c in codes if c in set(enabled) and c not in disabled]
    return [c for c in codes if c not in disabled]


def engine_run(snapshot_dir: Path, *, engine: str, settings, progress, spark_master: str) -> pa.Table:
    from custos.checks.engine import run_checks

    return run_checks(
        snapshot_dir, engine=engine, settings=settings, progress=progress, spark_master=spark_master
    )


# --- loads ----------------------------------------------------------------------------------------


def latest_load() -> BookLoad | None:
    """The latest successfully loaded book that has a snapshot."""
    return (
        BookLoad.objects.filter(status=BookLoad.Status.DONE).exclude(snapshot_path="").order_by("-id").first()
    )


def _resolve_load(load) -> BookLoad:
    if load is None:
        found = latest_load()
        if found is None:
            raise CheckError("no book has been loaded yet: run `custos load PATH` first")
        return found
    if not isinstance(load, BookLoad):
        found = BookLoad.objects.filter(pk=load).first()
        if found is None:
            raise CheckError(f"load #{load} does not exist")
        load = found
    if load.status != BookLoad.Status.DONE:
        raise CheckError(f"load #{load.pk} is {load.status}, not done")
    if not load.snapshot_path or not Path(load.snapshot_path).exists():
        raise CheckError(f"load #{load.pk} has no snapshot at {load.snapshot_path or '(none)'}")
    return load


# --- the run --------------------------------------------------------------------------------------


def _note(progress: Progress | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def run_check(
    load=None,
    engine: str = "duckdb",
    settings=None,
    progress: Progress | None = None,
    user=None,
    *,
    spark_master: str = "local[2]",
) -> CheckRun:
    """Check `load` (a BookLoad or its id; default the latest successful one) and reconcile the findings.

    progress(fraction 0..1, note) is called as the run advances. Returns the finished CheckRun; raises
    CheckError (with the run marked failed when it had started) otherwise."""
    if engine not in ENGINES:
        raise CheckError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    load = _resolve_load(load)
    try:
        settings = settings if settings is not None else default_settings()
        checks = catalogue()
    except ImportError as exc:
        raise CheckError(f"the check catalogue is not available: {exc}") from exc
    enabled = enabled_codes(settings, checks)
    metas = [CheckMeta(c.code, str(c.category), str(c.severity)) for c in checks]
    run = CheckRun.objects.create(
        load=load,
        engine=engine,
        settings=settings.as_dict() if hasattr(settings, "as_dict") else {},
        settings_fingerprint=settings.fingerprint() if hasattr(settings, "fingerprint") else "",
        enabled_checks=enabled,
        created_by=user if getattr(user, "pk", None) else None,
    )
    t0 = time.monotonic()
    try:
        _note(progress, 0.0, "checking")

        def engine_progress(percent: int, note: str = "") -> None:
            # The engine reports (percent 0..100, note); it fills the first 90 % of the run.
            _note(progress, 0.9 * max(0, min(100, percent)) / 100, note or "checking")

        result = engine_run(
            Path(load.snapshot_path),
            engine=engine,
            settings=settings,
            progress=engine_progress if progress is not None else None,
            spark_master=spark_master,
        )
        engine_seconds = time.monotonic() - t0
        result, metas, enabled = _with_sources(load, result, metas, enabled)
        _note(progress, 0.9, "reconciling findings")
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as c:
                    c.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            counts = reconcile(run, result, metas, enabled)
            category_of = {m.code: m.category for m in metas}
            _finish(run, counts, normalise(result), category_of, engine_seconds, time.monotonic() - t0)
        _note(progress, 1.0, "done")
        return run
    except Exception as exc:
        CheckRun.objects.filter(pk=run.pk).update(
            status=CheckRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            duration_seconds=time.monotonic() - t0,
        )
        if isinstance(exc, CheckError):
            raise
        raise CheckError(f"check run #{run.pk} failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc


def _with_sources(load, result: pa.Table, metas: list, enabled: list):
    """The engine's result with the findings of the registered sources (custos.checks.sources:
    identity resolution's XC checks), their checks' metadata, and the codes they may close."""
    from custos.checks import sources

    found = sources.collect(load)
    if not found:
        return result, metas, enabled
    from custos.checks.engine import FINDING_SCHEMA

    tables = [result.select(list(FINDING_SCHEMA.names)).cast(FINDING_SCHEMA)]
    metas, enabled = list(metas), list(enabled)
    for res in found:
        metas += [CheckMeta(c.code, c.category, c.severity) for c in res.checks]
        enabled += [c for c in res.enabled if c not in enabled]
        tables.append(res.table.select(list(FINDING_SCHEMA.names)).cast(FINDING_SCHEMA))
    return pa.concat_tables(tables), metas, enabled


def _finish(
    run: CheckRun, counts, result: pa.Table, category_of: dict, engine_seconds: float, seconds: float
) -> None:
    by_check: dict[str, int] = {}
    if result.num_rows:
        for row in result.group_by("check").aggregate([("check", "count")]).to_pylist():
            by_check[row["check"]] = row["check_count"]
    by_category: dict[str, int] = {}
    for code, n in by_check.items():
        by_category[category_of[code]] = by_category.get(category_of[code], 0) + n
    open_agg = Finding.objects.filter(status=Finding.Status.OPEN).aggregate(
        n=Count("id"),
        missing=Count("policy_no", distinct=True, filter=Q(category="missing")),
        false=Count("policy_no", distinct=True, filter=Q(category="false")),
        untrue=Count("policy_no", distinct=True, filter=Q(category__in=["missing", "false"])),
    )
    run.findings_found = counts.found
    run.findings_opened = counts.opened
    run.findings_kept = counts.kept
    run.findings_closed = counts.closed
    run.findings_open = open_agg["n"]
    run.policies_missing = open_agg["missing"]
    run.policies_false = open_agg["false"]
    run.policies_untrue = open_agg["untrue"]
    run.by_check = dict(sorted(by_check.items()))
    run.by_category = by_category
    run.policies_checked = Policy.objects.filter(gone_load__isnull=True).count()
    run.parties_checked = Party.objects.filter(gone_load__isnull=True).count()
    run.engine_seconds = round(engine_seconds, 3)
    run.duration_seconds = round(seconds, 3)
    run.finished_at = timezone.now()
    run.status = CheckRun.Status.DONE
    run.save()


# --- export ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("check", "policy_no", "role", "seq", "field", "category", "severity", "status")


def findings_for_export(status: str = "open"):
    qs = Finding.objects.order_by("policy_no", "role", "seq", "check_code", "field", "id")
    if status != "all":
        qs = qs.filter(status=status)
    return qs


def csv_rows(queryset) -> Iterable[list[str]]:
    cols = ("check_code", "policy_no", "role", "seq", "field", "category", "severity", "status")
    for row in queryset.values_list(*cols).iterator(chunk_size=5000):
        yield [neutralise(v) for v in row]


# --- reading findings (pages, API): scoped, masked, logged ----------------------------------------

FILTERS = ("check", "category", "severity", "status", "channel", "branch", "agent", "partner", "policy_no")
FILTERS_INT = ("run", "load", "opened_run", "closed_run")


def scoped_findings(ctx) -> QuerySet[Finding]:
    """Findings of the policies in the viewer's scope (an AccessContext), as a query filter."""
    return Finding.objects.filter(policy_no__in=ctx.policies().values("policy_no"))


def run_for_load(load_id: int) -> int | None:
    """The latest finished check run of a load."""
    return (
        CheckRun.objects.filter(load_id=load_id, status=CheckRun.Status.DONE)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def filter_findings(qs: QuerySet[Finding], params: Mapping) -> QuerySet[Finding]:
    """Narrow findings by the list/API filters. Empty values are ignored.

    run=R: findings run R found (opened by R or earlier, last seen by R or later);
    load=L: the same for the latest finished run of load L; branch=B: B's whole subtree."""
    get = params.get
    simple = {
        "check": "check_code",
        "category": "category",
        "severity": "severity",
        "channel": "channel",
        "agent": "agent_no",
        "partner": "partner_code",
        "policy_no": "policy_no",
    }
    for key, column in simple.items():
        if get(key):
            qs = qs.filter(**{column: get(key)})
    status = get("status") or "open"
    if status != "all":
        qs = qs.filter(status=status)
    if get("branch"):
        qs = qs.filter(branch_code__in=branch_subtree(get("branch")))
    run_id = get("run")
    if get("load") and not run_id:
        run_id = run_for_load(int(get("load")))
        if run_id is None:
            return qs.none()
    if run_id:
        qs = qs.filter(opened_run_id__lte=int(run_id), last_seen_run_id__gte=int(run_id))
    if get("opened_run"):
        qs = qs.filter(opened_run_id=int(get("opened_run")))
    if get("closed_run"):
        qs = qs.filter(closed_run_id=int(get("closed_run")))
    return qs


def display_value(field: str, value) -> str:
    """The finding's value as shown: masked by the kind of field it came from."""
    from custos.domain import masking

    if value in (None, ""):
        return ""
    return str(masking.mask_field(field, value))


def explain(code: str) -> dict:
    """message_zh, message_en and basis of a check (empty when the catalogue does not know it)."""
    try:
        check = catalogue_by_code().get(code)
    except ImportError:
        check = None
    if check is None:
        from custos.checks.sources import declared

        check = declared(code)  # a check another app computes (identity's XC01–XC03)
    if check is None:
        return {"message_zh": "", "message_en": "", "basis": ""}
    return {"message_zh": check.message_zh, "message_en": check.message_en, "basis": check.basis}


FINDING_FIELDS = (
    "id",
    "check_code",
    "policy_no",
    "role",
    "seq",
    "field",
    "category",
    "severity",
    "status",
    "close_reason",
    "value",
    "proposed",
    "channel",
    "branch_code",
    "agent_no",
    "partner_code",
    "opened_run_id",
    "last_seen_run_id",
    "closed_run_id",
    "opened_at",
    "closed_at",
    "settings_fingerprint",
    "recurs_id",
    "detail",
)


def describe_detail(detail: str) -> str:
    """A finding's ``detail`` in words: ID09's ``rank=2/2 birth=0 sex=1 earliest=0 rows=1`` (how this
    name/birth-date variant of the number ranks as its owner); any other text as it is."""
    parts = dict(p.split("=", 1) for p in (detail or "").split() if "=" in p)
    if not {"rank", "birth", "sex", "earliest", "rows"} <= parts.keys() or "/" not in parts["rank"]:
        return detail or ""
    rank, of = parts["rank"].split("/", 1)
    words = [
        _("同一号码的%(of)s种姓名/出生日期中排第%(rank)s（第1最可能是号码本人）") % {"of": of, "rank": rank},
        _("出生日期与身份证号码一致") if parts["birth"] == "1" else _("出生日期与身份证号码不一致或为空"),
        _("性别与身份证号码一致") if parts["sex"] == "1" else _("性别与身份证号码不一致或为空"),
        _("含最早投保的保单") if parts["earliest"] == "1" else _("不含最早投保的保单"),
        _("共%(rows)s条记录") % {"rows": parts["rows"]},
    ]
    return "；".join(str(w) for w in words)


def read_findings(ctx, qs: QuerySet[Finding], action: str, *, purpose: str = "") -> list[dict]:
    """Evaluate qs (narrowed to scope again), mask each value, log the read, return dicts.

    Raises ReadLogUnavailable, returning nothing, when the read cannot be logged."""
    from custos.access import readlog

    scoped = qs.filter(policy_no__in=ctx.policies().values("policy_no"))
    rows = list(scoped.values(*FINDING_FIELDS))
    readlog.append(
        user=ctx.user,
        staff_no=ctx.staff_no,
        action=action,
        model="finding",
        record_ids=[r["id"] for r in rows],
        fields=["value"],
        client=ctx.client,
        purpose=purpose,
        outcome="ok" if rows else "empty",
    )
    for r in rows:
        r["value"] = display_value(r["field"], r["value"])
        r["proposed"] = display_value(r["field"], r["proposed"])
    return rows


# --- aggregations (dashboard, summary): GROUP BY in the database ----------------------------------

CATEGORY_ORDER = ("missing", "false", "suspicious")


def summary_counts(qs: QuerySet[Finding]) -> dict:
    """Counts of findings by category, severity, check and channel (for `qs`, already filtered)."""
    out: dict = {"total": qs.count()}
    for key, column in (
        ("by_category", "category"),
        ("by_severity", "severity"),
        ("by_check", "check_code"),
        ("by_channel", "channel"),
        ("by_status", "status"),
    ):
        out[key] = {r[column]: r["n"] for r in qs.values(column).annotate(n=Count("id")).order_by(column)}
    return out


def _rates(policies: int, missing: int, false: int, untrue: int) -> dict:
    def pct(n):
        return round(100.0 * n / policies, 2) if policies else None

    return {
        "policies": policies,
        "untrue": untrue,
        "missing": missing,
        "false": false,
        "untrue_rate": pct(untrue),
        "missing_rate": pct(missing),
        "false_rate": pct(false),
    }


_POLICY_COUNTS = {
    "missing": Count("policy_no", distinct=True, filter=Q(category="missing")),
    "false": Count("policy_no", distinct=True, filter=Q(category="false")),
    "untrue": Count("policy_no", distinct=True, filter=Q(category__in=["missing", "false"])),
}


def in_subtree(qs: QuerySet, branch_root: str | None) -> QuerySet:
    """Policies or findings (both carry branch_code) of the branch subtree rooted at branch_root;
    all of qs when branch_root is None."""
    return qs.filter(branch_code__in=branch_subtree(branch_root)) if branch_root else qs


def rates_by(ctx, dimension: str, *, branch_root: str | None = None) -> list[dict]:
    """The regulator's table: per channel (dimension="channel") or per branch under branch_root
    (dimension="branch"), policies in scope and those with ≥1 open missing / false finding. With
    branch_root, both dimensions count only that branch's subtree (within the viewer's scope)."""
    policies = in_subtree(ctx.policies().filter(gone_load__isnull=True), branch_root)
    findings = in_subtree(scoped_findings(ctx).filter(status=Finding.Status.OPEN), branch_root)
    column = "channel" if dimension == "channel" else "branch_code"
    pol = {r[column]: r["n"] for r in policies.values(column).annotate(n=Count("id")).order_by()}
    fin = {r[column]: r for r in findings.values(column).annotate(**_POLICY_COUNTS).order_by()}
    if dimension == "channel":
        keys = sorted(set(pol) | set(fin))
        rows = []
        for k in keys:
            f = fin.get(k, {})
            rows.append(
                {
                    "key": k,
                    **_rates(pol.get(k, 0), f.get("missing", 0), f.get("false", 0), f.get("untrue", 0)),
                }
            )
        return rows
    # branch: roll the branch codes up to the children of branch_root (disjoint: each policy has one branch)
    rollup = branch_rollup(branch_root)
    acc: dict[str, list[int]] = {}
    for code in set(pol) | set(fin):
        top = rollup.get(code, code)
        a = acc.setdefault(top, [0, 0, 0, 0])
        f = fin.get(code, {})
        a[0] += pol.get(code, 0)
        a[1] += f.get("missing", 0)
        a[2] += f.get("false", 0)
        a[3] += f.get("untrue", 0)
    names = dict(Branch.objects.filter(branch_code__in=list(acc)).values_list("branch_code", "name"))
    return [
        {"key": k, "name": names.get(k, k), **_rates(*v)}
        for k, v in sorted(acc.items(), key=lambda kv: kv[0])
    ]


def branch_rollup(root: str | None) -> dict[str, str]:
    """branch_code -> the child of `root` whose subtree holds it (root itself maps to root).
    root None: the head office (the branch without a parent)."""
    rows = list(Branch.objects.values_list("branch_code", "parent_code"))
    parent = dict(rows)
    if root is None:
        heads = [c for c, p in rows if not p]
        root = heads[0] if len(heads) == 1 else None
    out: dict[str, str] = {}
    for code in parent:
        chain, cur, seen = [code], code, {code}
        while parent.get(cur) and parent[cur] not in seen:
            cur = parent[cur]
            chain.append(cur)
            seen.add(cur)
        if root is None:
            out[code] = chain[-1]
        elif code == root:
            out[code] = root
        elif root in chain:
            out[code] = chain[chain.index(root) - 1]
    return out


def counts_by_check(qs: QuerySet[Finding]) -> list[dict]:
    rows = list(
        qs.values("check_code", "category", "severity")
        .annotate(n=Count("id"), policies=Count("policy_no", distinct=True))
        .order_by("check_code")
    )
    for r in rows:
        r.update(explain(r["check_code"]))
    return rows


def trend(ctx, limit: int = 20, *, branch_root: str | None = None) -> list[dict]:
    """Untrue / missing / false rates in scope (and branch_root's subtree) at each of the last `limit`
    finished check runs: a finding counts at run R when R opened it or an earlier run did and no run up
    to R closed it."""
    runs = list(CheckRun.objects.filter(status=CheckRun.Status.DONE).order_by("-id")[:limit])[::-1]
    out = []
    scoped = in_subtree(scoped_findings(ctx), branch_root)
    policies = in_subtree(ctx.policies(), branch_root)
    for run in runs:
        open_at = scoped.filter(opened_run_id__lte=run.pk).filter(
            Q(closed_run__isnull=True) | Q(closed_run_id__gt=run.pk)
        )
        agg = open_at.aggregate(**_POLICY_COUNTS)
        n_pol = (
            policies.filter(first_load_id__lte=run.load_id)
            .filter(Q(gone_load__isnull=True) | Q(gone_load_id__gt=run.load_id))
            .count()
        )
        out.append(
            {
                "run": run.pk,
                "load": run.load_id,
                "finished_at": run.finished_at,
                **_rates(n_pol, agg["missing"], agg["false"], agg["untrue"]),
            }
        )
    return out
