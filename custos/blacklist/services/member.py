"""The member's side: checking candidates and staff against the association's list.

    hits = check_ids(["110105198005010314", ...])     # the ID numbers the list names (exact)
    summary = check_staff()                            # new and changed staff of the book

A staff load calls check_staff through the book's `book_loaded` signal. When the association cannot
be reached the load still succeeds: the staff waiting are kept as `pending` StaffCheck rows, counted
on the compliance page, and checked again by the next load, the periodic job (every 15 minutes) or
`custos blacklist check-staff`. A hit is a `Hit` (staff number) that the snapshot's blacklist table
carries, so SC03 flags the policies the listed agent sold."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import private_set_intersection.python as psi
from django.db import transaction
from django.utils import timezone

from custos.audit.record import record
from custos.blacklist import conf
from custos.blacklist.models import Hit, StaffCheck
from custos.blacklist.services.files import normalise_id

log = logging.getLogger(__name__)
CHUNK = 5000  # ID numbers per look-up request


class ExchangeError(Exception):
    """The association refused (status, its message)."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"association answered {status}: {message}")


class Unreachable(Exception):
    """The association could not be reached (not configured, network, or a 5xx)."""


# --- talking to the association ----------------------------------------------------------------------


def _call(method: str, path: str, body: dict | None = None) -> dict:
    base = conf.url()
    if not base:
        raise Unreachable("CUSTOS_BLACKLIST_URL is not set")
    if not base.startswith(("http://", "https://")):
        raise Unreachable(f"CUSTOS_BLACKLIST_URL must be an http(s) URL, not {base!r}")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{base}/api/v1/blacklist/{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {conf.token()}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=conf.timeout()) as resp:  # noqa: S310 - configured URL
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode()).get("detail", "")
        except (ValueError, AttributeError):
            detail = ""
        if exc.code >= 500:
            raise Unreachable(f"association answered {exc.code}") from exc
        raise ExchangeError(exc.code, str(detail) or exc.reason) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Unreachable(f"association not reachable at {base}: {exc}") from exc


_setups: dict[tuple[str, int], bytes] = {}  # (association URL, version) -> setup message


def _setup() -> tuple[int, psi.ServerSetup]:
    have = max((v for (u, v) in _setups if u == conf.url()), default=0)
    got = _call("GET", f"setup?have={have}")
    version = int(got["version"])
    if got.get("setup"):
        _setups[(conf.url(), version)] = base64.b64decode(got["setup"])
    setup = psi.ServerSetup()
    setup.ParseFromString(_setups[(conf.url(), version)])
    return version, setup


def _lookup(version: int, client, chunk: list[str]) -> bytes:
    request = client.CreateRequest(chunk)
    body = {
        "version": version,
        "nonce": secrets.token_hex(16),
        "timestamp": int(time.time()),
        "request": base64.b64encode(request.SerializeToString()).decode(),
    }
    return base64.b64decode(_call("POST", "lookup", body)["response"])


@dataclass
class Result:
    version: int
    hits: list[str] = field(default_factory=list)


def check_ids(numbers: list[str]) -> Result:
    """The ID numbers (normalised, 18 characters) of `numbers` that the association's list names.
    Raises Unreachable or ExchangeError (429 when over the member's rate limit)."""
    numbers = list(dict.fromkeys(numbers))
    version, setup = _setup()
    result = Result(version)
    if not numbers:
        return result
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        for attempt in (1, 2):
            client = psi.client.CreateWithNewKey(True)  # a fresh blinding key for every request
            try:
                raw = _lookup(version, client, chunk)
                break
            except ExchangeError as exc:
                if exc.status != 409 or attempt == 2 or "stale" not in str(exc):
                    raise
                version, setup = _setup()  # the list changed meanwhile: its new setup message
        response = psi.Response()
        response.ParseFromString(raw)
        result.hits.extend(chunk[i] for i in sorted(client.GetIntersection(setup, response)))
        result.version = version
    return result


def check_file(path: Path, out: Path | None = None) -> Result:
    """`custos blacklist check FILE.csv --json OUT`: {"hits": [id_no, ...]} (normalised)."""
    from custos.blacklist.services.files import read_candidates

    numbers = read_candidates(Path(path))
    result = check_ids(numbers)
    with transaction.atomic():
        record(
            None,
            "blacklist.checked",
            (StaffCheck, 0),
            None,
            {"items": len(numbers), "hits": len(result.hits), "version": result.version},
            model="blacklist_check",
        )
    if out is not None:
        Path(out).write_text(json.dumps({"hits": result.hits}, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


# --- the staff of the book ---------------------------------------------------------------------------


@dataclass
class StaffSummary:
    checked: int = 0
    hits: int = 0
    new_hits: list[str] = field(default_factory=list)
    pending: int = 0
    no_id: int = 0
    error: str = ""


def _staff_rows():
    from custos.book.models import Staff

    return (
        Staff.objects.filter(gone_load__isnull=True)
        .only("staff_no", "id_no", "id_no_bidx")
        .order_by("staff_no")
    )


def check_staff(*, everyone: bool = False) -> StaffSummary:
    """Check the staff not checked yet, those whose ID number changed and those pending (`everyone`:
    every staff member). Never raises for an unreachable association: they stay pending."""
    summary = StaffSummary()
    known = {c.staff_no: c for c in StaffCheck.objects.all()}
    todo: dict[str, list[tuple[str, str]]] = {}  # ID number -> [(staff_no, blind index)]
    no_id: list[tuple[str, str]] = []
    for s in _staff_rows():
        c = known.get(s.staff_no)
        if not everyone and c is not None and c.status != StaffCheck.Status.PENDING:
            if c.id_no_bidx == s.id_no_bidx:
                continue
        number, _why = normalise_id(s.id_no)
        if number is None:
            no_id.append((s.staff_no, s.id_no_bidx))
        else:
            todo.setdefault(number, []).append((s.staff_no, s.id_no_bidx))
    now = timezone.now()
    with transaction.atomic():
        for staff_no, bidx in no_id:
            StaffCheck.objects.update_or_create(
                staff_no=staff_no,
                defaults={
                    "id_no_bidx": bidx,
                    "status": StaffCheck.Status.NO_ID,
                    "checked_at": now,
                    "error": "",
                },
            )
    summary.no_id = len(no_id)
    if not todo:
        return summary
    try:
        result = check_ids(list(todo))
    except (Unreachable, ExchangeError) as exc:
        summary.pending, summary.error = sum(map(len, todo.values())), str(exc)[:300]
        with transaction.atomic():
            for staff_no, bidx in (x for xs in todo.values() for x in xs):
                StaffCheck.objects.update_or_create(
                    staff_no=staff_no,
                    defaults={
                        "id_no_bidx": bidx,
                        "status": StaffCheck.Status.PENDING,
                        "error": summary.error,
                    },
                )
        log.warning("blacklist: %s staff waiting to be checked: %s", summary.pending, summary.error)
        return summary
    hit_numbers = set(result.hits)
    with transaction.atomic():
        for number, staff_no, bidx in ((n, *x) for n, xs in todo.items() for x in xs):
            hit = number in hit_numbers
            StaffCheck.objects.update_or_create(
                staff_no=staff_no,
                defaults={
                    "id_no_bidx": bidx,
                    "status": StaffCheck.Status.HIT if hit else StaffCheck.Status.CLEAR,
                    "list_version": result.version,
                    "checked_at": now,
                    "error": "",
                },
            )
            existing = Hit.objects.filter(staff_no=staff_no).first()
            if hit and (existing is None or not existing.active):
                summary.new_hits.append(staff_no)
                Hit.objects.update_or_create(
                    staff_no=staff_no,
                    defaults={"id_no_bidx": bidx, "list_version": result.version, "active": True},
                )
            elif not hit and existing is not None and existing.active:
                Hit.objects.filter(pk=existing.pk).update(active=False)
        summary.checked = sum(map(len, todo.values()))
        summary.hits = sum(len(xs) for n, xs in todo.items() if n in hit_numbers)
        record(
            None,
            "blacklist.staff_checked",
            (StaffCheck, 0),
            None,
            {"checked": summary.checked, "hits": summary.hits, "version": result.version},
            model="blacklist_check",
        )
    return summary


def active_hits() -> list[str]:
    return sorted(Hit.objects.filter(active=True).values_list("staff_no", flat=True))


def refresh_snapshot(snapshot_dir: Path | None = None) -> int:
    """Write the hits into the current book's snapshot (its blacklist table), and into the screening
    context built from it; returns the number of hits written."""
    from custos.book.services import current_snapshot
    from custos.checks.engine.snapshot import write_blacklist_hits

    snapshot_dir = snapshot_dir or current_snapshot()
    if snapshot_dir is None or not Path(snapshot_dir).exists():
        return 0
    hits = active_hits()
    write_blacklist_hits(Path(snapshot_dir), hits)
    from custos.screening.models import IndexState

    state = IndexState.objects.first()
    if state is not None and Path(state.snapshot_path) == Path(snapshot_dir):
        from custos.screening.context import build_from_snapshot

        build_from_snapshot(Path(snapshot_dir), load_id=state.load_id, refs_only=True)
    return len(hits)


# --- the load hook -----------------------------------------------------------------------------------


def after_load(sender=None, load=None, **kwargs) -> None:
    """The book's `book_loaded` signal: check new and changed staff (when an association is set)."""
    if conf.is_association() or not conf.url():
        return
    summary = check_staff()
    refresh_snapshot()  # the new snapshot carries every hit, found now or before
    if summary.checked or summary.pending:
        log.info(
            "blacklist: load #%s: %s staff checked, %s hits, %s pending",
            getattr(load, "pk", None),
            summary.checked,
            summary.hits,
            summary.pending,
        )


def connect() -> None:
    from custos.book import services as book_services

    signal = getattr(book_services, "book_loaded", None)
    if signal is not None:
        signal.connect(after_load, dispatch_uid="custos.blacklist.after_load")


# --- nominations -------------------------------------------------------------------------------------


def send_nominations() -> tuple[int, str]:
    """Send the nominations compliance approved (custos.blacklist.nominations) to the association;
    returns (sent, error)."""
    from custos.blacklist import nominations

    sent = 0
    for n in nominations.approved():
        try:
            got = _call("POST", "nominations", nominations.payload(n))
        except (Unreachable, ExchangeError) as exc:
            return sent, str(exc)
        with transaction.atomic():
            nominations.mark_sent(n, got.get("received"))
        sent += 1
    return sent, ""
