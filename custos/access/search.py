"""Finding customers and policies in scope: the scoped list every role has, and the search by policy
number (any case), ID number, mobile, or name with birth date — through the access service.

    found = search.page(ctx, Criteria(id_no="440106…"), page=1)   # the read is logged first
    found.policies, found.rows, found.paginator

ID numbers and mobiles are sealed in the book: they are matched on their keyed blind index
(custos.crypto.fields.blind_index, the same normalisation as the stored index: ID numbers upper-case,
mobiles as 11 digits). Names and birth dates are matched as stored. Every page of results, even an
empty one, is one read entry of the audit log (`lookup` for a search, `customer_list` for the list)
whose purpose says which kind of search it was, never the searched value. A search on persons shows
the matching parties; the list and a policy-number search show every party of each policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from custos.access.service import AccessContext
from custos.book.models import Party, Policy
from custos.domain import masking

PER_PAGE = 20
POLICY_FIELDS = ["policy_no", "product_name", "channel", "branch_code", "agent_no", "partner_code", "status"]


@dataclass(frozen=True)
class Criteria:
    policy_no: str = ""
    id_no: str = ""
    mobile: str = ""
    name: str = ""
    birth_date: dt.date | None = None

    @property
    def on_persons(self) -> bool:
        return bool(self.id_no or self.mobile or (self.name and self.birth_date))

    @property
    def empty(self) -> bool:
        return not (self.policy_no or self.on_persons)

    def kinds(self) -> list[str]:
        """What was searched on (for the audit entry's purpose and the page): never the values."""
        out = []
        if self.policy_no:
            out.append("policy_no")
        if self.id_no:
            out.append("id_no")
        if self.mobile:
            out.append("mobile")
        if self.name and self.birth_date:
            out.append("name+birth_date")
        return out

    def masked(self) -> dict[str, str]:
        """The criteria as a page may show them back to anyone: masked like the results."""
        out = {}
        if self.policy_no:
            out["policy_no"] = self.policy_no
        if self.id_no:
            out["id_no"] = masking.mask_field("id_no", self.id_no)
        if self.mobile:
            out["mobile"] = masking.mask_field("mobile", self.mobile)
        if self.name and self.birth_date:
            out["name"] = masking.mask_field("name", self.name)
            out["birth_date"] = masking.mask_field("birth_date", self.birth_date)
        return out


def matching_parties(criteria: Criteria, queryset: QuerySet[Party] | None = None) -> QuerySet[Party]:
    """Parties matching the criteria on persons (not yet scoped: read through the access service)."""
    from custos.crypto.fields import blind_index

    qs = Party.objects.all() if queryset is None else queryset
    if criteria.id_no:
        digest = blind_index(criteria.id_no, "id_no")
        qs = qs.filter(id_no_bidx=digest) if digest else qs.none()
    if criteria.mobile:
        digest = blind_index(criteria.mobile, "mobile")
        qs = qs.filter(mobile_bidx=digest) if digest else qs.none()
    if criteria.name and criteria.birth_date:
        qs = qs.filter(name=criteria.name.strip(), birth_date=criteria.birth_date)
    if criteria.policy_no:
        qs = qs.filter(policy_no__iexact=criteria.policy_no.strip())
    return qs


def policies(ctx: AccessContext, criteria: Criteria) -> QuerySet[Policy]:
    """The policies in scope that the criteria select (all of them for empty criteria)."""
    qs = ctx.policies()
    if criteria.policy_no:
        qs = qs.filter(policy_no__iexact=criteria.policy_no.strip())
    if criteria.on_persons:
        qs = qs.filter(policy_no__in=matching_parties(criteria).values("policy_no"))
    return qs.order_by("policy_no")


@dataclass
class Found:
    page: Page
    policies: list[dict]  # each with "parties": its masked rows (with "id" for unmask links)
    rows: list[dict] = field(default_factory=list)


def page(
    ctx: AccessContext, criteria: Criteria, number=1, *, per_page: int | None = None, action: str = ""
) -> Found:
    """One page of policies in scope with their parties, masked; the read is logged (as `action`, by
    default lookup / customer_list) before returning (ReadLogUnavailable: nothing is returned)."""
    per_page = per_page or PER_PAGE
    paginator = Paginator(policies(ctx, criteria).values(*POLICY_FIELDS), per_page)
    pg = paginator.get_page(number)
    shown = list(pg.object_list)
    numbers = [p["policy_no"] for p in shown]
    parties = Party.objects.filter(policy_no__in=numbers)
    if criteria.on_persons:
        parties = matching_parties(criteria, parties)
    kinds = criteria.kinds()
    purpose = ("search by " + ", ".join(kinds) if kinds else "list") + f"; page {pg.number}"
    rows = ctx.read_parties(
        parties,
        action=action or ("lookup" if kinds else "customer_list"),
        purpose=purpose,
        limit=per_page * 50,
        include_id=True,
    )
    by_policy: dict[str, list[dict]] = {}
    for r in rows:
        by_policy.setdefault(r["policy_no"], []).append(r)
    out = [{**p, "parties": by_policy.get(p["policy_no"], [])} for p in shown]
    return Found(page=pg, policies=out, rows=rows)
