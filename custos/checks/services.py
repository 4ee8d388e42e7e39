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
from django.db.models import Count, Q
from django.utils import timezone

from custos.book.models import BookLoad, Party, Policy
from custos.checks.lifecycle import CheckMeta, normalise, reconcile
from custos.checks.models import CheckRun, Finding

ENGINES = ("duckdb", "spark")
# PostgreSQL advisory lock key: one reconciliation at a time ("custos" in ASCII).
_LOCK_KEY = 0x637573746F73

Progress = Callable[[float, str], None]


class CheckError(Exception):
    """A check run cannot start or failed; str() is a one-line reason for the user."""


# --- the catalogue and the engine (owned by the check-catalogue engineer) --------------------------


def catalogue() -> list:
    from custos.checks.catalogue import CATALOGUE

    return list(CATALOGUE.values()) if isinstance(CATALOGUE, Mapping) else list(CATALOGUE)


def catalogue_by_code() -> dict:
    return {c.code: c for c in catalogue()}


def default_settings():
    from custos.checks.catalogue import CheckSettings

    return CheckSettings()


def enabled_codes(settings, checks: Iterable | None = None) -> list[str]:
    """Codes of the checks that `settings` switches on."""
    codes = [c.code for c in (checks if checks is not None else catalogue())]
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

        def engine_progress(*args, **kwargs):
            # Pass the engine's own progress on, scaled into the first 90 % of the run.
            fraction = _engine_fraction(args, kwargs)
            if fraction is not None:
                _note(progress, 0.9 * fraction, "checking")

        result = engine_run(
            Path(load.snapshot_path),
            engine=engine,
            settings=settings,
            progress=engine_progress if progress is not None else None,
            spark_master=spark_master,
        )
        engine_seconds = time.monotonic() - t0
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


def _engine_fraction(args, kwargs) -> float | None:
    """Best effort: engines report (done, total, …), (fraction, …) or keyword arguments."""
    nums = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
    done = kwargs.get("done", nums[0] if nums else None)
    total = kwargs.get("total", nums[1] if len(nums) > 1 else None)
    if done is None:
        return None
    if total:
        return max(0.0, min(1.0, done / total))
    return max(0.0, min(1.0, float(done))) if done <= 1 else None


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
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell) -> str:
    """A CSV cell a spreadsheet will not evaluate: text starting with = + - @ (or tab, CR) gets a
    leading apostrophe (OWASP "CSV injection")."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def findings_for_export(status: str = "open"):
    qs = Finding.objects.order_by("policy_no", "role", "seq", "check_code", "field", "id")
    if status != "all":
        qs = qs.filter(status=status)
    return qs


def csv_rows(queryset) -> Iterable[list[str]]:
    cols = ("check_code", "policy_no", "role", "seq", "field", "category", "severity", "status")
    for row in queryset.values_list(*cols).iterator(chunk_size=5000):
        yield [neutralise(v) for v in row]
