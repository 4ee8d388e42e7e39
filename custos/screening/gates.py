"""Screening rules that are not checks of customer information: business gates decided by custos's
own records, applied to every application beside the catalogue's findings (docs/screening.md).

PT01: the application is sold through a partner whose agency relationship custos terminated
(custos.partnership): always rejected, whatever CUSTOS_SCREEN_REJECT says — a terminated partner may
not bring new business."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    code: str
    category: str
    severity: str
    message_zh: str
    message_en: str


GATES: dict[str, Gate] = {
    "PT01": Gate(
        code="PT01",
        category="partner",
        severity="high",
        message_zh="销售该投保单的合作机构已终止合作，不得受理其新业务",
        message_en="Sold through a partner outlet whose agency relationship has been terminated: no new business",
    ),
}
ALWAYS_REJECT = frozenset(GATES)


def findings(policy: dict) -> list[dict]:
    """The gates' findings for one application (its policy row), in the evaluator's shape."""
    from custos.partnership.status import terminated

    code = policy.get("partner_code") or ""
    if code and terminated(code):
        return [
            {
                "check": "PT01",
                "role": "policy",
                "seq": 0,
                "field": "partner_code",
                "value": code,
                "proposed": None,
            }
        ]
    return []
