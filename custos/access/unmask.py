"""Unmasking: one party field shown in clear, for a stated purpose, for a limited time, audited.

    grant = unmask.request(ctx, party_id, "mobile", purpose="revisit", purpose_text="")
    value = unmask.reveal(ctx, grant.token)   # the clear value while the grant lasts, else None

- Only holders of the capability `unmask` may unmask (custos.access.capabilities; the roles come from
  settings.CUSTOS_UNMASK_ROLES), UnmaskDenied otherwise.
- The party must be in the caller's scope (otherwise NotInScope, logged as denied: to the caller it is
  the same "not found" as a party that does not exist).
- A purpose from PURPOSES is required; "other" requires a free text.
- At most settings.CUSTOS_UNMASK_PER_HOUR grants per user per rolling hour: beyond that the request is
  blocked (RateLimited), logged with outcome "blocked", and a SecurityAlert is raised.
- Every grant is an audit entry (action "unmask", the party id, the field, the purpose) appended
  before the value can be seen; if it cannot be appended, nothing is granted (ReadLogUnavailable).
- The grant's token expires after settings.CUSTOS_UNMASK_SECONDS; the page hides the value then too.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.access import readlog
from custos.access.capabilities import can, role_can
from custos.access.models import UnmaskGrant
from custos.book.models import Party
from custos.integrity import services as integrity

PURPOSES = [
    ("revisit", _("回访核实")),
    ("customer_request", _("客户申请变更")),
    ("complaint", _("投诉处理")),
    ("regulator", _("监管检查")),
    ("other", _("其他")),
]
PURPOSE_CODES = {code for code, _label in PURPOSES}
UNMASKABLE_FIELDS = ["name", "id_no", "mobile", "phone", "address", "email", "birth_date"]


class UnmaskError(Exception):
    pass


class UnmaskDenied(UnmaskError):
    """The role may not unmask."""


class NotInScope(UnmaskError):
    """The party does not exist or is outside the caller's scope (the two are not told apart)."""


class RateLimited(UnmaskError):
    """The caller has used up their unmaskings for this hour."""


class BadPurpose(UnmaskError):
    pass


def can_unmask(role: str | None) -> bool:
    """The table alone: whether a role may unmask (pages use capabilities.can(ctx, "unmask"))."""
    return role_can(role, "unmask")


def used_last_hour(user) -> int:
    since = timezone.now() - dt.timedelta(hours=1)
    return UnmaskGrant.objects.filter(user=user, created_at__gte=since).count()


def purpose_statement(purpose: str, purpose_text: str) -> str:
    return f"{purpose}: {purpose_text}" if purpose_text else purpose


def _log(ctx, party_id, field, purpose, outcome):
    return readlog.append(
        user=ctx.user,
        staff_no=ctx.staff_no,
        action="unmask",
        model="party",
        record_ids=[party_id] if party_id is not None else [],
        fields=[field],
        client=ctx.client,
        purpose=purpose,
        outcome=outcome,
    )


def request(ctx, party_id: int, field: str, *, purpose: str, purpose_text: str = "") -> UnmaskGrant:
    purpose_text = (purpose_text or "").strip()
    if not can(ctx, "unmask"):
        _log(ctx, party_id, field, purpose_statement(purpose, purpose_text), "denied")
        raise UnmaskDenied("this role may not unmask")
    if field not in UNMASKABLE_FIELDS:
        raise BadPurpose(f"field {field!r} cannot be unmasked")
    if purpose not in PURPOSE_CODES:
        raise BadPurpose("choose a purpose from the list")
    if purpose == "other" and not purpose_text:
        raise BadPurpose("purpose 'other' needs an explanation")
    statement = purpose_statement(purpose, purpose_text)
    if not ctx.parties().filter(pk=party_id).exists():
        _log(ctx, party_id, field, statement, "denied")
        raise NotInScope("party not found or not in your scope")
    limit = settings.CUSTOS_UNMASK_PER_HOUR
    if used_last_hour(ctx.user) >= limit:
        from custos.watch.models import SecurityAlert
        from custos.watch.services import raise_alert

        _log(ctx, party_id, field, statement, "blocked")
        raise_alert(
            SecurityAlert.Kind.UNMASK_RATE,
            ctx.user,
            f"{ctx.user.username} ({ctx.staff_no or '-'}) reached {limit} unmaskings in one hour; "
            f"further unmasking blocked (last: party {party_id}, {field}, {statement})",
        )
        raise RateLimited(f"at most {limit} unmaskings per hour")
    entry = _log(ctx, party_id, field, statement, "ok")  # raises ReadLogUnavailable: nothing granted
    with transaction.atomic():
        return UnmaskGrant.objects.create(
            token=secrets.token_urlsafe(32),
            user=ctx.user,
            party_id=party_id,
            field=field,
            purpose=purpose,
            purpose_text=purpose_text[:500],
            expires_at=timezone.now() + dt.timedelta(seconds=settings.CUSTOS_UNMASK_SECONDS),
            audit_seq=entry.seq,
        )


def live_grant(ctx, token: str) -> UnmaskGrant | None:
    """The caller's own grant behind token while it lasts and the party is still in scope, else None."""
    grant = UnmaskGrant.objects.filter(token=token, user=ctx.user, expires_at__gt=timezone.now()).first()
    if grant is None or not can(ctx, "unmask") or not ctx.parties().filter(pk=grant.party_id).exists():
        return None
    return grant


def reveal(ctx, token: str):
    """The clear value of a live grant (None when expired, foreign or out of scope)."""
    grant = live_grant(ctx, token)
    if grant is None:
        return None
    # checked against the party's integrity tag first (Tampered: audited, alerted, nothing shown)
    value = integrity.read_checked(ctx, Party, [grant.party_id], [grant.field], "unmask")
    value = value.get(grant.party_id, {}).get(grant.field)
    if isinstance(value, dt.date):
        value = value.isoformat()
    return value
