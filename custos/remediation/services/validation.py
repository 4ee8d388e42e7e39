"""A correction's new value, checked by the catalogue itself before it is proposed and again before
it is applied: an authenticity system must not write untrue data (issue 18).

The policy's rows (its policy row and every party, the party's field replaced by the new value) go
through the online check (`custos.screening.service.evaluate`: the compiled catalogue of
`custos.checks.catalogue`, the same rule definitions as the batch engines, with the book's context
rows), once with the current value and once with the new one. The new value is refused when, on the
corrected party,

any finding names the corrected field — except the checks about what happened rather than what the
value is (they read the book's `changes` or `visits`: SC01, PH08), which no new value can clear.

A finding the new value raises on *another* field of the party (a valid ID number whose birth date
contradicts the birth date on file raises ID06 on `birth_date`) does not refuse it: the two fields
are corrected one after the other, and either order would otherwise be refused. It is reported
(`Objection.blocking` False) to the proposer's and the reviewer's page, and the next check run
finds it if the second correction never comes.

No rule is written here: the refusal carries the check's code and its zh/en reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from django.utils import translation
from django.utils.translation import gettext as _

from custos.book.models import Party, Policy
from custos.domain.bookformat import TABLES
from custos.remediation.services.errors import RemediationError


@dataclass(frozen=True)
class Objection:
    """One finding the new value would raise."""

    code: str
    field: str
    category: str
    severity: str
    message_zh: str
    message_en: str
    blocking: bool = True  # on the corrected field: refuses the value; else a warning

    @property
    def message(self) -> str:
        lang = translation.get_language() or "zh-hans"
        return self.message_en if lang.startswith("en") else self.message_zh

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "category": self.category, "severity": self.severity,
                "message_zh": self.message_zh, "message_en": self.message_en, "blocking": self.blocking}  # fmt: skip


class ValueRefused(RemediationError):
    """The checks raise a finding on the new value: nothing is proposed or applied."""

    status = 400

    def __init__(self, objections: list[Objection]):
        self.objections = objections
        sep = "; " if (translation.get_language() or "").startswith("en") else "；"
        reasons = sep.join(f"{o.code} {o.message}" for o in objections)
        super().__init__(_("新值未通过核查规则，未保存：%(reasons)s") % {"reasons": reasons})


_POLICY_COLS = [c.name for c in TABLES["policies"].columns]
_PARTY_COLS = [c.name for c in TABLES["parties"].columns]
_DATE_FIELDS = {c.name for c in TABLES["parties"].columns if c.type == "date"}


@cache
def history_checks() -> frozenset[str]:
    """Checks about what happened (they read the book's changes or return visits), not about what a
    value is: taken from their SQL, so a new check of that kind is recognised by its definition."""
    from custos.checks.catalogue import CATALOGUE

    return frozenset(
        c.code for c in CATALOGUE if isinstance(c.sql, str) and re.search(r"\b(changes|visits)\b", c.sql)
    )


def _cell(value):
    if value is None or value == "":
        return None
    return value


def as_value(field_name: str, text: str):
    """The typed value of a field as the book holds it (dates: YYYY-MM-DD), or RemediationError."""
    text = (text or "").strip()
    if field_name in _DATE_FIELDS and text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise RemediationError(_("日期格式应为 YYYY-MM-DD：%(value)s。") % {"value": text[:20]}) from None
    return text


def _records(policy_no: str, override: tuple | None) -> dict[str, list[dict]]:
    policy = Policy.objects.filter(policy_no=policy_no).values(*_POLICY_COLS).first()
    if policy is None:
        raise RemediationError(_("找不到保单 %(policy)s。") % {"policy": policy_no})
    parties = []
    for p in Party.objects.filter(policy_no=policy_no).order_by("role", "seq"):
        row = {c: _cell(getattr(p, c)) for c in _PARTY_COLS}
        if override and (p.role, p.seq) == override[:2]:
            row[override[2]] = _cell(override[3])
        parties.append(row)
    pol = {c: _cell(v) for c, v in policy.items()}
    pol["premium"] = float(pol["premium"]) if pol.get("premium") is not None else None
    pol["commission"] = float(pol["commission"]) if pol.get("commission") is not None else None
    return {"policies": [pol], "parties": parties, "changes": []}


def _findings(records) -> set[tuple[str, str, int, str]]:
    from custos.screening import service as screening

    found, _keys = screening.evaluate(records, in_book=True)
    return {(f["check"], f["role"], int(f["seq"]), f["field"]) for f in found}


def objections(policy_no: str, role: str, seq: int, field_name: str, new_value) -> list[Objection]:
    """What the checks say about `new_value` in `field_name` of the party: the findings it would raise,
    blocking (on the corrected field) or not (new on another field); empty: nothing found."""
    from custos.checks.catalogue import BY_CODE

    value = as_value(field_name, new_value) if isinstance(new_value, str) else new_value
    before = _findings(_records(policy_no, None))
    after = _findings(_records(policy_no, (role, int(seq), field_name, value)))
    history = history_checks()
    out = []
    for code, r, s, f in sorted(after):
        if (r, s) != (role, int(seq)):
            continue
        on_field = f == field_name and code not in history
        if on_field or (code, r, s, f) not in before:
            c = BY_CODE[code]
            out.append(Objection(code, f, c.category, c.severity, c.message_zh, c.message_en, on_field))
    return sorted(out, key=lambda o: (not o.blocking, o.code))


def check_new_value(policy_no: str, role: str, seq: int, field_name: str, new_value) -> None:
    """Refuse (ValueRefused, with each finding's reason) a value the checks would raise a finding on."""
    found = [o for o in objections(policy_no, role, seq, field_name, new_value) if o.blocking]
    if found:
        raise ValueRefused(found)
