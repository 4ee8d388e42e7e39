"""Which partners' letters and recommendations a reader sees (registered with access.restrict):
partner staff their own partner's; a reader with a branch the partners of that branch's subtree;
head office (no branch) every partner."""

from __future__ import annotations


def partner_scope(queryset, ctx):
    from custos.book.models import Partner, branch_subtree

    p = ctx.profile
    if p is None:
        return queryset.none()
    if p.partner_code:
        return queryset.filter(partner_code=p.partner_code)
    if p.branch_code:
        codes = Partner.objects.filter(branch_code__in=branch_subtree(p.branch_code)).values("partner_code")
        return queryset.filter(partner_code__in=codes)
    return queryset


def sees_partner(ctx, partner_code: str) -> bool:
    """The same rule for one partner code."""
    from custos.book.models import Partner, branch_subtree

    p = ctx.profile
    if p is None:
        return False
    if p.partner_code:
        return p.partner_code == partner_code
    if p.branch_code:
        return Partner.objects.filter(
            partner_code=partner_code, branch_code__in=branch_subtree(p.branch_code)
        ).exists()
    return True
