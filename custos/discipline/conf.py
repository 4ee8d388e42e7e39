"""Discipline settings: `settings.CUSTOS_DISCIPLINE` (a dict) over these defaults.

The fine schedule is a list of entries, each with the date it takes effect; a case is fined by the
entry of its kind in effect on the day it is decided, and keeps those amounts (copied onto the case)
whatever the schedule says later. A company changes its fines by adding an entry with a later date,
never by editing an old one (old decisions name the date of the entry they were decided under)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KINDS = ("sales", "operations", "data_misuse", "resale")

DEFAULTS = {
    # yuan, exact; the Measures' figures for sales and operations, custos's choice for the other two
    "fines": [
        {"kind": "sales", "from": "2013-01-01", "offender": "200.00", "supervisor": "100.00"},
        {"kind": "operations", "from": "2013-01-01", "offender": "100.00", "supervisor": "50.00"},
        {"kind": "data_misuse", "from": "2013-01-01", "offender": "200.00", "supervisor": "100.00"},
        {"kind": "resale", "from": "2013-01-01", "offender": "1000.00", "supervisor": "500.00"},
    ],
    # findings whose value is the selling agent's own phone or the outlet's phone / address
    "agent_contact_checks": ["PH05", "PH07", "AD04"],
    # out-of-scope reads: this many refused reads by one person on one day make a proposal
    "denied_per_day": 3,
    "denied_lookback_days": 30,
    # leak traces whose best candidate is at least this sure name a culprit
    "leak_confidence": ["certain", "high"],
    "appeal_max_bytes": 5 * 1024 * 1024,
    "appeal_types": {
        "application/pdf": b"%PDF",
        "image/jpeg": b"\xff\xd8\xff",
        "image/png": b"\x89PNG\r\n\x1a\n",
    },
}


def get(name: str):
    return getattr(settings, "CUSTOS_DISCIPLINE", {}).get(name, DEFAULTS[name])


@dataclass(frozen=True)
class Fine:
    kind: str
    effective_from: dt.date
    offender: Decimal
    supervisor: Decimal


def _amount(value, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ImproperlyConfigured(f"{where}: {value!r} is not an amount in yuan") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ImproperlyConfigured(f"{where}: {value!r} must be yuan with at most 2 decimals, not below 0")
    return amount.quantize(Decimal("0.01"))


def schedule() -> list[Fine]:
    """Every entry of the fine schedule, checked (ImproperlyConfigured names the bad entry)."""
    out = []
    for i, entry in enumerate(get("fines")):
        where = f"CUSTOS_DISCIPLINE['fines'][{i}]"
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ImproperlyConfigured(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        try:
            start = dt.date.fromisoformat(str(entry.get("from")))
        except ValueError:
            raise ImproperlyConfigured(
                f"{where}: 'from' {entry.get('from')!r} is not a date YYYY-MM-DD"
            ) from None
        out.append(
            Fine(kind, start, _amount(entry.get("offender"), where), _amount(entry.get("supervisor"), where))
        )
    return sorted(out, key=lambda f: (f.kind, f.effective_from))


def fine_on(kind: str, day: dt.date) -> Fine | None:
    """The schedule's entry for `kind` in effect on `day` (the latest that started on or before it)."""
    found = None
    for fine in schedule():
        if fine.kind == kind and fine.effective_from <= day:
            found = fine
    return found
