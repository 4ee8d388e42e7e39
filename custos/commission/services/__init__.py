"""Commission gates: settle a month, prove the ledger, approve with four eyes, export for payment."""

from custos.commission.services.ledger import (
    HOLDING,
    CommissionError,
    approve,
    derive_items,
    fen,
    held_items,
    prepared_runs,
    settle,
    yuan,
)
from custos.commission.services.reconcile import reconcile

__all__ = [
    "HOLDING",
    "CommissionError",
    "approve",
    "derive_items",
    "fen",
    "held_items",
    "prepared_runs",
    "reconcile",
    "settle",
    "yuan",
]
