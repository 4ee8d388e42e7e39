"""Partners who do not correct: campaigns, formal letters and their delivery, termination
recommendations, opinions and decisions (docs/partnership.md)."""

from custos.partnership.services.letters import (
    STEPS,
    PartnershipError,
    candidates,
    deadline_days,
    draft_letter,
    held_fen,
    open_campaign,
    pdf_bytes,
    record_step,
)
from custos.partnership.services.review import (
    decide,
    deducted_fen,
    evidence,
    record_opinion,
    review,
    terminate,
)

__all__ = [
    "STEPS",
    "PartnershipError",
    "candidates",
    "deadline_days",
    "decide",
    "deducted_fen",
    "draft_letter",
    "evidence",
    "held_fen",
    "open_campaign",
    "pdf_bytes",
    "record_opinion",
    "record_step",
    "review",
    "terminate",
]
