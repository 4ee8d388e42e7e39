"""The access service: the one module through which every page, endpoint and export reads personal data.

    ctx = AccessContext.for_request(request)        # or .for_user(user)
    ctx.policies()                                   # Policy queryset, already scoped
    ctx.parties()                                    # Party queryset of the policies in scope
    rows = ctx.read_parties(qs, action="lookup")     # masked dicts; the read is logged first

Scope is a query filter, never a check after the fact:

- no Profile, an inactive user, or staff who have left (Staff.left_on reached) → nothing;
- agent → policies whose agent_no is the agent's staff_no;
- partner staff → policies sold through the partner (partner_code);
- channel manager → policies of their channel (a channel manager without a channel sees nothing);
- every role is further narrowed by the Profile's branch (the branch's subtree, by Branch.path prefix)
  and channel when those are set; compliance, IT security, auditor and executive with neither see the
  whole book — masked, like everyone else.

Parties are reached through the policies in scope (a subquery on policy_no). Values are masked by
`custos.domain.masking`; the read is appended to the tamper-evident audit log (custos.audit, through
`custos.access.readlog.append`) *before* anything is returned, and if that append fails nothing is
returned (ReadLogUnavailable). Clear values only through `custos.access.unmask` (purpose, time limit,
rate limit, audited).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from custos.access import readlog
from custos.access.capabilities import OUTSIDE_ROLES, cut_off
from custos.access.models import Profile, Role
from custos.access.readlog import ReadLogUnavailable
from custos.book.models import Party, Policy, branch_subtree
from custos.domain import masking
from custos.integrity import services as integrity

__all__ = ["AccessContext", "ReadLogUnavailable", "PARTY_FIELDS"]

# What a party lookup shows by default.
PARTY_FIELDS = [
    "policy_no",
    "role",
    "seq",
    "relation",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_no",
    "mobile",
    "phone",
    "address",
    "email",
]


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


@dataclass(frozen=True)
class AccessContext:
    user: object
    profile: Profile | None
    client: str = ""
    _today: dt.date = field(default_factory=lambda: timezone.localdate())

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def for_user(cls, user, client: str = "") -> AccessContext:
        profile = None
        if user is not None and getattr(user, "is_authenticated", False) and user.is_active:
            profile = Profile.objects.filter(user=user).first()
        return cls(user=user, profile=profile, client=client)

    @classmethod
    def for_request(cls, request) -> AccessContext:
        return cls.for_user(getattr(request, "user", None), client=client_address(request))

    @property
    def role(self) -> str | None:
        return self.profile.role if self.profile else None

    @property
    def staff_no(self) -> str:
        return self.profile.staff_no if self.profile else ""

    # --- scope ----------------------------------------------------------------------------------

    def _has_left(self) -> bool:  # or belongs to a terminated partner
        return self.profile is not None and cut_off(self.profile, self._today)

    def policies(self) -> QuerySet[Policy]:
        p = self.profile
        if p is None or p.role not in Role.values or p.role in OUTSIDE_ROLES or self._has_left():
            return (
                Policy.objects.none()
            )  # an association's member insurer sees no book, whatever the middleware
        qs = Policy.objects.all()
        if p.role == Role.AGENT:
            if not p.staff_no:
                return Policy.objects.none()
            qs = qs.filter(agent_no=p.staff_no)
        elif p.role == Role.PARTNER_STAFF:
            if not p.partner_code:
                return Policy.objects.none()
            qs = qs.filter(partner_code=p.partner_code)
        elif p.role == Role.CHANNEL_MANAGER and not p.channel:
            return Policy.objects.none()
        if p.channel:
            qs = qs.filter(channel=p.channel)
        if p.branch_code:
            qs = qs.filter(branch_code__in=branch_subtree(p.branch_code))
        return qs

    def parties(self) -> QuerySet[Party]:
        return Party.objects.filter(policy_no__in=self.policies().values("policy_no"))

    def policy_in_scope(self, policy_no: str) -> bool:
        return self.policies().filter(policy_no=policy_no).exists()

    # --- reads ----------------------------------------------------------------------------------

    def read_parties(
        self,
        queryset: QuerySet[Party],
        action: str,
        fields: list[str] | None = None,
        *,
        purpose: str = "",
        limit: int = 500,
        include_id: bool = False,
    ) -> list[dict]:
        """Evaluate queryset (narrowed to scope again), mask each row, log the read, return the rows
        (with the party's "id" when include_id, for the unmask links of a page).

        Raises ReadLogUnavailable, returning nothing, when the read cannot be logged."""
        fields = list(fields or PARTY_FIELDS)
        scoped = queryset.filter(policy_no__in=self.policies().values("policy_no"))
        ids = list(scoped.order_by("policy_no", "role", "seq").values_list("pk", flat=True)[:limit])
        # read in the statement that checks each row's integrity tag; a row changed behind custos's
        # back refuses the read (Tampered, a ReadLogUnavailable: audited, alerted, nothing returned)
        found = integrity.read_checked(self, Party, ids, fields, action)
        ids = [pk for pk in ids if pk in found]
        rows = [found[pk] for pk in ids]
        readlog.append(
            user=self.user,
            staff_no=self.staff_no,
            action=action,
            model="party",
            record_ids=ids,
            fields=fields,
            client=self.client,
            purpose=purpose,
            outcome="ok" if rows else "empty",
        )
        out = [{f: _display(f, r[f]) for f in fields} for r in rows]
        if include_id:
            for row, pk in zip(out, ids, strict=True):
                row["id"] = pk
        return out

    def log_denied(self, action: str, model: str, fields: list[str] | None = None) -> None:
        """Record an attempt to read outside scope (raises ReadLogUnavailable like any read)."""
        readlog.append(
            user=self.user,
            staff_no=self.staff_no,
            action=action,
            model=model,
            record_ids=[],
            fields=list(fields or []),
            client=self.client,
            outcome="denied",
        )


def _display(field_name: str, value):
    if field_name in masking.FIELD_MASKS:
        return masking.mask_field(field_name, value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
