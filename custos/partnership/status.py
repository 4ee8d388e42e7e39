"""Whether custos terminated a partner: the one question the rest of custos asks (the capability
table for the partner's staff, online screening for its new applications). The book's Partner rows
are the core system's history and are never edited; a PartnerTermination row is custos's own fact."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def terminated(partner_code: str, today: dt.date | None = None) -> bool:
    """A termination of this partner is in force (effective on or before today)."""
    if not partner_code:
        return False
    from custos.partnership.models import Termination

    today = today or timezone.localdate()
    return Termination.objects.filter(partner_code=partner_code, effective_on__lte=today).exists()


def terminated_codes(today: dt.date | None = None) -> set[str]:
    from custos.partnership.models import Termination

    today = today or timezone.localdate()
    return set(Termination.objects.filter(effective_on__lte=today).values_list("partner_code", flat=True))
