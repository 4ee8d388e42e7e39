"""Verifying every customer row (`custos integrity verify`, the IT security page) and refusing a
read of a row that fails (the access service).

    run = run_verify(by="cli:alice")          # an IntegrityRun; audited, an alert when it fails
    rows = read_checked(ctx, Party, ids, fields, action="lookup")   # raises Tampered
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from . import rows as R
from . import tags as T
from .errors import Tampered
from .models import IntegrityRun

FETCH = 20_000
ALERT_KIND = "integrity"


@dataclass
class Result:
    checked: dict[str, int] = field(default_factory=dict)
    failures: list[R.Failure] = field(default_factory=list)  # the first `keep` (None: all)
    failure_count: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    keep: int | None = IntegrityRun.MAX_KEPT
    child_cpu: float = 0.0  # CPU seconds of the second process

    @property
    def ok(self) -> bool:
        return self.failure_count == 0

    def add(self, f: R.Failure) -> None:
        self.failure_count += 1
        if self.keep is None or len(self.failures) < self.keep:
            self.failures.append(f)


def _stream(spec: T.Spec, where: str = "1 = 1"):
    """Every row of a tagged table as (id, tag, id text, components…), in batches."""
    sql = R.select_sql(spec, where)
    with connection.chunked_cursor() as cur:
        cur.execute(sql)
        while batch := cur.fetchmany(FETCH):
            yield batch


def _check(spec: T.Spec, res: Result, digests: dict, where: str = "1 = 1", progress=None) -> int:
    tag_of = T.tagger(spec.db_table)
    n = 0
    for batch in _stream(spec, where):
        n += len(batch)
        if spec is T.HISTORY:
            for row in batch:
                k = (row[3], row[4], row[5])
                digests[k] = digests.get(k, 0) ^ int(row[1] or T.ZERO, 16)
                if not row[1] or tag_of(row[2:]) != row[1]:
                    res.add(R.failure(spec, row))
        elif spec.history:
            get, zero = digests.get, 0
            for row in batch:
                d = get((row[3], row[4], row[5]), zero)
                if not row[1] or tag_of((*row[2:], format(d, "032x") if d else T.ZERO)) != row[1]:
                    res.add(R.failure(spec, row))
        else:
            for row in batch:
                if not row[1] or tag_of(row[2:]) != row[1]:
                    res.add(R.failure(spec, row))
        if progress:
            progress(spec.db_table, n)
    return n


def _check_in_two(spec: T.Spec, res: Result, digests: dict, lo: int, hi: int) -> int:
    """The lower half of the ids here, the upper half in a forked second process (the second CPU): it
    inherits the history digests and opens its own database connection, and sends back its count and
    failures. If it fails, this process checks the odd rows itself."""
    import os
    import pickle
    import tempfile

    mid = (lo + hi) // 2  # ranges on the primary key: each process reads only its half
    low, high = f"id <= {int(mid)}", f"id > {int(mid)}"
    connection.close()  # the child must not share the parent's connection
    fd, path = tempfile.mkstemp(prefix="custos-verify-")
    os.close(fd)
    pid = os.fork()
    if pid == 0:  # the child: leave by os._exit only
        code = 1
        try:
            mine = Result(keep=res.keep)
            n = _check(spec, mine, digests, high)
            with open(path, "wb") as f:
                pickle.dump((n, mine.failures, mine.failure_count, time.process_time()), f)
            code = 0
        finally:
            connection.close()
            os._exit(code)
    try:
        n = _check(spec, res, digests, low)
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.unlink(path)
        raise
    _, status = os.waitpid(pid, 0)
    try:
        if status != 0:
            return n + _check(spec, res, digests, high)
        with open(path, "rb") as f:
            n2, failures, count, cpu = pickle.load(f)  # noqa: S301 - our own child's file
        for f_ in failures:
            res.add(f_)
        res.failure_count += count - len(failures)
        res.child_cpu += cpu
        return n + n2
    finally:
        os.unlink(path)


PARALLEL_FROM = 200_000  # rows of a table from which the second process pays for its start


def verify(
    progress=None, *, only: tuple[T.Spec, ...] = T.ORDER, keep: int | None = IntegrityRun.MAX_KEPT
) -> Result:
    """Check every party, history, staff and partner row (or the tables `only`; a party's history
    must come before it) against its tag. No decryption: the components are computed by the database
    (custos.integrity.tags). A large table is checked by two processes (POSIX fork)."""
    import os

    res = Result(keep=keep)
    t0, c0 = time.perf_counter(), time.process_time()
    digests: dict[tuple, int] = {}
    for spec in only:
        big = spec is not T.HISTORY and hasattr(os, "fork") and not connection.in_atomic_block
        rows, lo, hi = _size(spec) if big else (0, 0, 0)
        big = big and rows >= PARALLEL_FROM
        n = (
            _check_in_two(spec, res, digests, lo, hi)
            if big
            else _check(spec, res, digests, progress=progress)
        )
        if progress and big:
            progress(spec.db_table, n)
        res.checked[spec.db_table] = n
    res.seconds = time.perf_counter() - t0
    res.cpu_seconds = time.process_time() - c0 + res.child_cpu
    return res


def _size(spec: T.Spec) -> tuple[int, int, int]:
    """Rows, lowest and highest id of a table, in one query."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), MIN(id), MAX(id) FROM {connection.ops.quote_name(spec.db_table)}")
        rows, lo, hi = cur.fetchone()
    return rows, lo or 0, hi or 0


def run_verify(by: str = "", progress=None) -> IntegrityRun:
    """verify(), kept as an IntegrityRun, recorded in the audit log (action integrity_verify), and a
    security alert when anything failed."""
    from custos.audit import service as audit

    started = timezone.now()
    res = verify(progress)
    run = IntegrityRun.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        ok=res.ok,
        checked=res.checked,
        failure_count=res.failure_count,
        failures=[f.as_dict() for f in res.failures],
        seconds=round(res.seconds, 3),
        cpu_seconds=round(res.cpu_seconds, 3),
        by=by[:150],
    )
    if not res.ok:
        _alert(
            None,
            f"integrity verify: {res.failure_count} rows fail: "
            + "; ".join(f.line() for f in res.failures[:3]),
        )
    audit.append(
        username=by if not by.startswith("cli:") else "",
        staff_no="",
        action="integrity_verify",
        model="integrity",
        record_ids=[run.pk],
        fields=sorted(res.checked),
        client=by if by.startswith("cli:") else "",
        purpose=f"{sum(res.checked.values())} rows, {res.failure_count} failed",
        outcome="ok" if res.ok else "failed",
    )
    return run


def last_run() -> IntegrityRun | None:
    return IntegrityRun.objects.order_by("-started_at", "-id").first()


# --- reads ----------------------------------------------------------------------------------------


def _alert(user, detail: str) -> None:
    from custos.watch.services import raise_alert

    raise_alert(ALERT_KIND, user, detail[:2000], dedupe_minutes=10)


def refuse(ctx, model_name: str, action: str, failures: list[R.Failure]):
    """A read met rows that fail their tag: a security alert, an audit entry (integrity_refused,
    the failing rows' ids), and Tampered — nothing is returned."""
    from custos.access import readlog

    _alert(ctx.user, f"read refused ({action}): " + "; ".join(f.line() for f in failures[:5]))
    readlog.append(
        user=ctx.user,
        staff_no=ctx.staff_no,
        action="integrity_refused",
        model=model_name,
        record_ids=sorted({f.id for f in failures}),
        fields=sorted({f.table for f in failures}),
        client=ctx.client,
        purpose=action,
        outcome="refused",
    )  # raises ReadLogUnavailable if it cannot be written: nothing is returned either way
    raise Tampered(failures)


def read_checked(ctx, model, ids: list[int], fields: list[str], action: str) -> dict[int, dict]:
    """{id: {field: value}} of the rows `ids`, read in the statement that checks their tags; a row
    (or a party's history) that fails refuses the whole read (`refuse`)."""
    found, bad = R.fetch_verified(model, ids, fields)
    if bad:
        refuse(ctx, model._meta.model_name, action, bad)
    return found
