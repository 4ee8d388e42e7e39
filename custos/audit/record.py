"""The one audit path for changes: `record(actor, action, obj, before, after, reason)`.

Every change of customer information, of who may see what, and of a workflow state that decides
money or discipline goes through `record` (pretix's `log_action` is the model). One call writes two
rows in one transaction:

- a `ChangeEvent` (custos.audit.models): content type + object id, action, actor, time, the changed
  field names, and the before/after values and the reason **sealed** (AES-GCM, custos.crypto);
- an entry of the tamper-evident Merkle log (`custos.audit.service.append`): actor, action, model,
  the object id, the changed field names, client, and as purpose `hmac:<digest>` — an HMAC-SHA256
  (under a key derived from the keyring's tracing key) of the event's whole content. No value is in
  the log in clear.

**They cannot diverge.** Both inserts run in one `transaction.atomic()` block; called inside the
business transaction (as every caller does: put `record` last in the `with transaction.atomic()`
that makes the change), the change, the event row and the log entry commit or roll back together.
If the log cannot be written, `AuditWriteError` propagates and the change is undone (fail closed).
The entry's `seq` is taken under the log's lock (PostgreSQL: an advisory transaction lock, held to
the end of the outer transaction — so `record` comes last, just before the commit), which keeps the
log's numbering contiguous whichever transaction rolls back. Afterwards `verify_changes` (run by
`custos audit verify`) proves each event row still matches its entry: an event row edited, swapped
or deleted behind custos's back, or an entry without its row, is reported.

Models whose every save must be recorded (users, profiles, API tokens, screening keys) are
`watch()`ed: Django's model signals call `record` on each create, change and delete, so the admin,
commands and the shell are all covered; `acting(...)` tells them who is acting (the admin mixin and
the commands set it). See docs/architecture.md ("How the next app records a change").
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import getpass
import hashlib
import hmac
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_save

from custos.audit import service
from custos.audit.change_actions import CHANGE_ACTIONS
from custos.audit.models import AuditEntry, ChangeEvent

AuditWriteError = service.AuditWriteError
PURPOSE_PREFIX = "hmac:"


def _register_actions() -> None:
    """The audit log refuses unregistered actions (custos.audit.actions, where present)."""
    try:
        from custos.audit import actions
    except ImportError:
        return
    for action, label in CHANGE_ACTIONS.items():
        actions.ACTIONS.setdefault(action, label)


_register_actions()


# --- values ---------------------------------------------------------------------------------------


def _plain(value):
    """A field value as JSON: dates as ISO text, decimals and UUIDs as text, bytes as hex."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=_plain)


def _json(value):
    """value as it reads back from the sealed JSON column (tuples as lists, dates as text)."""
    return None if value is None else json.loads(_canonical(value))


def redacted(value) -> str:
    """Stands for a secret (a password hash, a token digest): shows that it changed, not what it is."""
    return "" if not value else "redacted:" + hashlib.sha256(str(value).encode()).hexdigest()[:12]


def snapshot(instance: models.Model, fields=None, *, exclude=(), redact=()) -> dict:
    """The values of a model instance's concrete fields, for `record`'s before/after: foreign keys
    by id (`user_id`), dates as ISO text; `redact` fields only as `redacted(value)`."""
    out = {}
    for f in instance._meta.concrete_fields:
        if f.primary_key or f.name in exclude or (fields is not None and f.name not in fields):
            continue
        value = _plain(getattr(instance, f.attname))
        out[f.attname] = redacted(value) if f.name in redact else value
    return out


def diff(before: dict | None, after: dict | None) -> list[str]:
    """Names of the fields whose value differs (all of them for a creation or a deletion)."""
    before, after = before or {}, after or {}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# --- who is acting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    actor: object = None  # a user, or None for the system
    client: str = ""
    reason: str = ""


_acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("custos_audit_acting", default=None)


@contextmanager
def acting(actor, *, client: str = "", reason: str = ""):
    """Changes recorded by watched models' signals inside this block are attributed to `actor`."""
    token = _acting.set(Acting(actor, client, reason))
    try:
        yield
    finally:
        _acting.reset(token)


def cli_client() -> str:
    """The client of a change made by a `custos` command: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


@contextmanager
def acting_cli(reason: str = ""):
    """A `custos` command: acted by the system, client `cli:<OS user>`."""
    with acting(None, client=cli_client(), reason=reason):
        yield


def current_acting() -> Acting:
    return _acting.get() or Acting()


# --- the record -----------------------------------------------------------------------------------


def _key() -> bytes:
    from custos.crypto.fields import keys

    # the tracing key outlives a replaced blind-index key (it is pinned then), as the log must
    return hmac.digest(keys().tracing_key, b"custos audit change", "sha256")


def event_digest(
    *, model, object_id, action, username, staff_no, client, fields, before, after, reason
) -> str:
    body = _canonical(
        [model, str(object_id), action, username, staff_no, client, fields, before, after, reason]
    )
    return hmac.new(_key(), body.encode(), hashlib.sha256).hexdigest()[:32]


def _label(obj) -> tuple[type[models.Model], str, str]:
    """(model class, object id, the log's model name) of obj: an instance or a (model, id) pair."""
    if isinstance(obj, tuple):
        model, pk = obj
    else:
        model, pk = type(obj), obj.pk
    return model, str(pk), model._meta.model_name


def _staff_no(actor) -> str:
    if actor is None or not getattr(actor, "pk", None):
        return ""
    from custos.access.models import Profile

    return Profile.objects.filter(user_id=actor.pk).values_list("staff_no", flat=True).first() or ""


def record(
    actor,
    action: str,
    obj,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    *,
    client: str = "",
    fields=None,
    model: str = "",
) -> ChangeEvent:
    """Record one change: a ChangeEvent row and its Merkle-log entry, together or not at all.

    actor: the user who made it (None: the enclosing `acting` block's, else the system); action:
    "<object>.<verb>" ("profile.changed"), registered in change_actions.py; obj: the model instance
    changed (or a (model class, pk) pair); before/after: dicts of field values (`snapshot(instance)`;
    None for a creation / deletion); reason: free text, sealed; client: the address (default the
    `acting` block's); fields: the changed field names (default `diff(before, after)`); model: the
    log's model name (default the model's name). Call it inside the transaction that makes the
    change, as its last step.
    Raises AuditWriteError when it cannot be written — the caller's transaction must then roll back.
    """
    klass, object_id, default_model = _label(obj)
    acting_now = current_acting()  # who and where, when the caller does not say (inside `acting`)
    actor = actor if actor is not None else acting_now.actor
    client = client or acting_now.client
    model = (model or default_model)[:32]
    before, after = _json(before), _json(after)
    fields = sorted(fields) if fields is not None else diff(before, after)
    username = (getattr(actor, "username", "") or "system")[:150] if actor is not None else "system"
    staff_no = _staff_no(actor)
    client, reason = (client or "")[:64], reason or ""
    digest = event_digest(
        model=model,
        object_id=object_id,
        action=action,
        username=username,
        staff_no=staff_no,
        client=client,
        fields=fields,
        before=before,
        after=after,
        reason=reason,
    )
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(klass, for_concrete_model=False)
    try:
        with transaction.atomic():
            entry = service.append(
                username=username,
                staff_no=staff_no,
                action=action,
                model=model,
                record_ids=[int(object_id) if object_id.isdigit() else object_id],
                fields=fields,
                purpose=PURPOSE_PREFIX + digest,
                client=client,
            )
            return ChangeEvent.objects.create(
                seq=entry.seq,
                at=entry.at,
                content_type=content_type,
                object_id=object_id,
                action=action,
                actor=actor if getattr(actor, "pk", None) else None,
                username=username,
                staff_no=staff_no,
                client=client,
                fields=fields,
                before=before,
                after=after,
                reason=reason,
                digest=digest,
            )
    except AuditWriteError:
        raise
    except Exception as exc:  # the event row failed: the entry rolled back with it
        raise AuditWriteError(f"change could not be recorded: {exc}") from exc


# --- checking ---------------------------------------------------------------------------------------


def verify_changes(batch: int = 2000) -> list[str]:
    """Problems between the change events and the log: an event whose content no longer hashes to
    the digest its entry carries (edited, re-sealed or swapped), an event without its entry, an
    entry of a change without its event. Events whose entry was archived are checked by digest only."""
    from custos.audit.service import archived_size

    problems: list[str] = []
    archived = archived_size()
    seen = 0
    last = -1
    while True:
        events = list(ChangeEvent.objects.filter(seq__gt=last).select_related("content_type")[:batch])
        if not events:
            break
        last = events[-1].seq
        entries = {e.seq: e for e in AuditEntry.objects.filter(seq__in=[ev.seq for ev in events])}
        for ev in events:
            seen += 1
            try:
                before, after, reason = ev.before, ev.after, ev.reason
            except Exception as exc:  # a tampered ciphertext does not open
                problems.append(f"change event at entry {ev.seq}: sealed values do not open ({exc})")
                continue
            entry = entries.get(ev.seq)
            if entry is None:
                if ev.seq >= archived:
                    problems.append(f"change event at entry {ev.seq}: the log entry is missing")
                continue
            model = entry.model
            digest = event_digest(
                model=model,
                object_id=ev.object_id,
                action=ev.action,
                username=ev.username,
                staff_no=ev.staff_no,
                client=ev.client,
                fields=list(ev.fields),
                before=before,
                after=after,
                reason=reason,
            )
            ids = entry.record_id_list
            same = (
                entry.purpose == PURPOSE_PREFIX + digest
                and digest == ev.digest
                and entry.action == ev.action
                and entry.username == ev.username
                and entry.field_list == sorted(ev.fields)
                and [str(i) for i in ids] == [ev.object_id]
            )
            if not same:
                problems.append(
                    f"change event at entry {ev.seq} ({ev.action}) does not match its log entry: altered"
                )
    orphans = (  # entries of a change (its action; action is indexed) whose event row is gone
        AuditEntry.objects.filter(action__in=list(CHANGE_ACTIONS), purpose__startswith=PURPOSE_PREFIX)
        .exclude(seq__in=ChangeEvent.objects.values("seq"))
        .values_list("seq", flat=True)[:20]
    )
    problems.extend(f"log entry {seq} records a change whose event row is missing" for seq in orphans)
    return problems


# --- watched models: every save and delete recorded through the model signals ---------------------


@dataclass(frozen=True)
class Watch:
    name: str  # the log's model name and the actions' prefix ("profile" -> "profile.changed")
    exclude: tuple = ()  # fields not recorded (bookkeeping such as last_login)
    redact: tuple = ()  # fields recorded only as changed (password hashes, token digests)
    verbs: tuple = ()  # (field, from, to, verb): a change of field from -> to is that verb


def _verb(w: Watch, before: dict, after: dict) -> str:
    for field, frm, to, verb in w.verbs:
        if before.get(field) == frm and after.get(field) == to:
            return verb
    return "changed"


def watch(model: type[models.Model], name: str, *, exclude=(), redact=(), verbs=()) -> None:
    """Record every create, change and delete of `model` through its signals (`name.created`,
    `name.changed` or a verb of `verbs`, `name.deleted`). A save that changes only excluded fields is
    not recorded. Saves inside a transaction (the admin, custos's commands and services) fail with
    the record; a save outside one (the shell in autocommit) is committed before its signal runs:
    the error is then raised to the caller, but the change stays."""
    w = Watch(name, tuple(exclude), tuple(redact), tuple(verbs))
    uid = f"custos-audit-{model._meta.label_lower}"

    def values(instance) -> dict:
        return snapshot(instance, exclude=w.exclude, redact=w.redact)

    def before_save(sender, instance, raw=False, **kw):
        old = None
        if instance.pk is not None and not instance._state.adding:
            stored = sender._default_manager.filter(pk=instance.pk).first()
            old = values(stored) if stored is not None else None
        instance._custos_audit_before = old

    def after_save(sender, instance, created, raw=False, **kw):
        before = None if created else getattr(instance, "_custos_audit_before", None)
        after = _json(values(instance))
        if before is not None and not diff(before, after):
            return
        verb = "created" if before is None else _verb(w, before, after)
        a = current_acting()
        record(a.actor, f"{w.name}.{verb}", instance, before, after, a.reason, client=a.client, model=w.name)

    def after_delete(sender, instance, **kw):
        a = current_acting()
        record(
            a.actor,
            f"{w.name}.deleted",
            instance,
            values(instance),
            None,
            a.reason,
            client=a.client,
            model=w.name,
        )

    pre_save.connect(before_save, sender=model, weak=False, dispatch_uid=uid + "-pre")
    post_save.connect(after_save, sender=model, weak=False, dispatch_uid=uid + "-post")
    post_delete.connect(after_delete, sender=model, weak=False, dispatch_uid=uid + "-delete")


class AuditedAdminMixin:
    """A ModelAdmin whose changes (the object and its inlines, list edits, delete actions) are
    attributed to the signed-in user and their address in the changes the watched models record."""

    def _acting(self, request):
        from custos.access.service import client_address

        return acting(request.user, client=client_address(request), reason="admin")

    def changeform_view(self, request, *args, **kwargs):
        with self._acting(request):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with self._acting(request):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with self._acting(request):
            return super().delete_view(request, *args, **kwargs)

    def user_change_password(self, request, *args, **kwargs):  # UserAdmin's password page
        with self._acting(request):
            return super().user_change_password(request, *args, **kwargs)
