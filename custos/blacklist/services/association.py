"""The association's side: keeping the list and answering members' look-ups.

The look-up is ECDH private set intersection (openmined-psi 2.0.6, docs/security.md "Industry
blacklist exchange"): the setup message holds H(x)^k for each listed ID number x under the version's
key k; a member sends its candidates blinded, H(y)^a, and gets H(y)^(ak) back, which only it can
unblind and compare. The association sees neither the candidates nor which of them matched."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import private_set_intersection.python as psi
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from google.protobuf.message import DecodeError

from custos.audit.record import record
from custos.blacklist import conf
from custos.blacklist.models import Entry, ListVersion, Lookup, Nonce, Received
from custos.blacklist.services.files import FileError, Listed, normalise_id, read_candidates, read_listed
from custos.crypto.fields import blind_index

DATA_STRUCTURE = psi.DataStructure.RAW  # exact: no false positive (a GCS or Bloom filter has some)


class NotAssociation(Exception):
    """This custos does not keep the list (CUSTOS_BLACKLIST_ROLE is not association)."""


class Refused(Exception):
    """A look-up refused: status (400 malformed, 409 replayed or stale, 429 over the limit) and why."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def _require_association() -> None:
    if not conf.is_association():
        raise NotAssociation(
            "this custos does not keep the industry blacklist (CUSTOS_BLACKLIST_ROLE is not association)"
        )


# --- the list ----------------------------------------------------------------------------------------


def current() -> ListVersion | None:
    return ListVersion.objects.order_by("-number").first()


def active_entries():
    return Entry.objects.filter(removed_in__isnull=True)


def _new_version(change: str) -> ListVersion:
    """A new version (call inside the transaction that changes the entries) with a fresh key."""
    last = ListVersion.objects.select_for_update().aggregate(n=Max("number"))["n"] or 0
    key = psi.server.CreateWithNewKey(True).GetPrivateKeyBytes()
    return ListVersion.objects.create(
        number=last + 1, change=change[:200], psi_key=base64.b64encode(key).decode()
    )


def _finish_version(version: ListVersion) -> None:
    version.entries = active_entries().count()
    version.save(update_fields=["entries"])


def add_file(path: Path, *, actor=None) -> tuple[ListVersion, int]:
    """List every person of FILE (id_no,name,company,reason,dismissed_on): all or nothing. A person
    already listed is an error naming the row."""
    _require_association()
    path = Path(path)
    rows = read_listed(path)
    return add_rows(rows, source=path.name, actor=actor, label=path.name)


def add_rows(rows: list[Listed], *, source: str, actor=None, label: str = "") -> tuple[ListVersion, int]:
    _require_association()
    with transaction.atomic():
        listed = set(active_entries().values_list("id_no_bidx", flat=True))
        problems = [
            f"{label or source}: row {i}: column id_no: already listed"
            for i, r in enumerate(rows, start=2)
            if blind_index(r.id_no, "id_no") in listed
        ]
        if problems:
            raise FileError(problems)
        version = _new_version(f"add {len(rows)} from {source}")
        Entry.objects.bulk_create(
            [
                Entry(
                    id_no=r.id_no,
                    id_no_bidx=blind_index(r.id_no, "id_no"),
                    name=r.name,
                    company=r.company,
                    reason=r.reason,
                    dismissed_on=r.dismissed_on,
                    source=source[:200],
                    added_in=version,
                )
                for r in rows
            ]
        )
        _finish_version(version)
        record(actor, "blacklist.added", version, None, {"added": len(rows), "entries": version.entries})
    return version, len(rows)


def remove(what: str, *, actor=None) -> tuple[ListVersion, int]:
    """Remove one person (an ID number) or every person of a file (column id_no)."""
    _require_association()
    if Path(what).is_file():
        numbers = read_candidates(Path(what))
        label = Path(what).name
    else:
        number, why = normalise_id(what)
        if number is None:
            raise FileError([f"{what!r}: {why} (give an ID number or a file with an id_no column)"])
        numbers, label = [number], "an ID number"
    with transaction.atomic():
        bidx = [blind_index(n, "id_no") for n in numbers]
        found = {e.id_no_bidx: e for e in active_entries().filter(id_no_bidx__in=bidx)}
        missing = [i for i, b in enumerate(bidx, start=2) if b not in found]
        if missing:
            where = f"row {missing[0]}" if label != "an ID number" else "the ID number"
            raise FileError([f"{label}: {where}: column id_no: not listed ({len(missing)} not listed)"])
        version = _new_version(f"remove {len(found)}")
        Entry.objects.filter(pk__in=[e.pk for e in found.values()]).update(removed_in=version)
        _finish_version(version)
        record(actor, "blacklist.removed", version, None, {"removed": len(found), "entries": version.entries})
    return version, len(found)


def rotate(*, actor=None) -> ListVersion:
    """A new version of the same list under a new key (old setup messages stop matching)."""
    _require_association()
    with transaction.atomic():
        version = _new_version("rotate")
        _finish_version(version)
        record(actor, "blacklist.rotated", version, None, {"entries": version.entries})
    return version


def _server(version: ListVersion):
    return psi.server.CreateFromKey(base64.b64decode(version.psi_key), True)


def setup_message(version: ListVersion | None = None) -> tuple[int, bytes]:
    """(version number, serialised setup message) of the current list, built once per version."""
    _require_association()
    version = version or current()
    if version is None:
        with transaction.atomic():
            version = _new_version("empty list")
    if version.setup is None:
        # the entries of this version: those added in it or before and not removed by it
        entries = Entry.objects.filter(added_in__number__lte=version.number).exclude(
            removed_in__number__lte=version.number
        )
        items = [e.id_no for e in entries]
        msg = _server(version).CreateSetupMessage(0.0, max(1, len(items)), items, DATA_STRUCTURE)
        version.setup = msg.SerializeToString()
        ListVersion.objects.filter(pk=version.pk).update(setup=version.setup)
    return version.number, bytes(version.setup)


# --- the look-up -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupAnswer:
    version: int
    response: bytes
    items: int


def _decode_request(payload: dict) -> tuple[int, str, int, psi.Request]:
    if not isinstance(payload, dict):
        raise Refused(400, "the body must be a JSON object with version, nonce, timestamp and request")
    missing = [k for k in ("version", "nonce", "timestamp", "request") if payload.get(k) in (None, "")]
    if missing:
        raise Refused(400, f"missing field(s): {', '.join(missing)}")
    version, nonce, ts, blob = (payload[k] for k in ("version", "nonce", "timestamp", "request"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise Refused(400, "version: a positive integer (the setup message's version)")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64 or not nonce.isalnum():
        raise Refused(400, "nonce: 16 to 64 letters or digits, new for every request")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise Refused(400, "timestamp: seconds since 1970 (an integer)")
    if not isinstance(blob, str):
        raise Refused(400, "request: the PSI request, serialised and base64-encoded")
    try:
        raw = base64.b64decode(blob, validate=True)
        request = psi.Request()
        request.ParseFromString(raw)
    except (ValueError, DecodeError) as exc:
        raise Refused(400, "request: not a base64-encoded PSI request") from exc
    if not request.reveal_intersection or not len(request.encrypted_elements):
        raise Refused(400, "request: a PSI request with at least one element (reveal_intersection)")
    if any(len(e) != 33 for e in request.encrypted_elements):
        raise Refused(400, "request: every element must be a compressed P-256 point (33 bytes)")
    return version, nonce, ts, request


def lookup(member, payload: dict) -> LookupAnswer:
    """Answer one member's look-up, or raise Refused. Audited with the member and the number of items
    (record, inside the transaction): never the items."""
    _require_association()
    version_no, nonce, ts, request = _decode_request(payload)
    n = len(request.encrypted_elements)
    lim = conf.limits()
    if n > lim.max_items:
        raise Refused(400, f"request: more than {lim.max_items:,} items in one look-up")
    now = timezone.now()
    if abs(now.timestamp() - ts) > lim.skew_seconds:
        raise Refused(400, f"timestamp: more than {lim.skew_seconds} s from the association's clock")
    version = current()
    if version is None or version.number != version_no:
        raise Refused(409, "stale version: the list changed; fetch the setup message again")
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=member.pk).first()  # one member at a time
        since = now - dt.timedelta(seconds=lim.window_seconds)
        Nonce.objects.filter(at__lt=now - dt.timedelta(seconds=max(lim.skew_seconds, 60) * 2)).delete()
        if Nonce.objects.filter(member=member, nonce=nonce).exists():
            raise Refused(409, "replayed request: this nonce was used already")
        used = Lookup.objects.filter(member=member, at__gte=since).aggregate(n=Count("id"), i=Sum("items"))
        if used["n"] + 1 > lim.requests or (used["i"] or 0) + n > lim.items:
            raise Refused(
                429,
                f"rate limit: at most {lim.requests} look-ups and {lim.items:,} items per "
                f"{lim.window_seconds} s for a member",
            )
        try:
            response = _server(version).ProcessRequest(request)
        except RuntimeError as exc:
            raise Refused(400, "request: an element is not a point of the curve") from exc
        Nonce.objects.create(member=member, nonce=nonce)
        row = Lookup.objects.create(member=member, items=n, version=version.number)
        record(member, "blacklist.lookup", row, None, {"items": n, "version": version.number})
    return LookupAnswer(version.number, response.SerializeToString(), n)


# --- nominations from members ------------------------------------------------------------------------


def receive(member, payload: dict) -> Received:
    """A member's nomination: stored sealed until the association accepts it."""
    _require_association()
    if not isinstance(payload, dict):
        raise Refused(400, "the body must be a JSON object")
    ref = str(payload.get("reference") or "").strip()
    if not ref or len(ref) > 64:
        raise Refused(400, "reference: the member's nomination number (1 to 64 characters)")
    number, why = normalise_id(str(payload.get("id_no") or ""))
    if number is None:
        raise Refused(400, f"id_no: {why}")
    name, reason = str(payload.get("name") or "").strip(), str(payload.get("reason") or "").strip()
    if not name or len(name) > 100:
        raise Refused(400, "name: 1 to 100 characters")
    if not reason or len(reason) > 2000:
        raise Refused(400, "reason: 1 to 2000 characters")
    try:
        day = dt.date.fromisoformat(str(payload.get("dismissed_on") or ""))
    except ValueError as exc:
        raise Refused(400, "dismissed_on: a date (YYYY-MM-DD)") from exc
    company = str(payload.get("company") or member.get_full_name() or member.username)[:200]
    with transaction.atomic():
        found = Received.objects.filter(member=member, reference=ref).first()
        if found is not None:
            return found  # sent again (the member did not get the answer): the same nomination
        got = Received.objects.create(
            member=member,
            reference=ref,
            id_no=number,
            name=name,
            company=company,
            reason=reason,
            dismissed_on=day,
        )
        record(member, "blacklist.nomination_received", got, None, {"reference": ref})
    return got


def accept(pks: list[int], *, actor=None) -> tuple[ListVersion, int]:
    """List the received nominations `pks` (one new version)."""
    _require_association()
    with transaction.atomic():
        got = list(Received.objects.select_for_update().filter(pk__in=pks, status=Received.Status.RECEIVED))
        if len(got) != len(set(pks)):
            raise FileError([f"nomination(s) not waiting: {sorted(set(pks) - {g.pk for g in got})}"])
        rows = [Listed(g.id_no, g.name, g.company, g.reason, g.dismissed_on) for g in got]
        version, n = add_rows(rows, source=f"nominations {','.join(str(g.pk) for g in got)}", actor=actor)
        Received.objects.filter(pk__in=[g.pk for g in got]).update(status=Received.Status.ACCEPTED)
    return version, n
