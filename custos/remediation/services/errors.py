"""Refusals: every refused remediation action is a RemediationError subclass."""

from __future__ import annotations

# --- refusals -------------------------------------------------------------------------------------


class RemediationError(Exception):
    """A refused action; str() is the message in both languages ("中文 / English": commands and the
    API show it whole), localized() the half of the page's active language."""

    status = 400

    def localized(self) -> str:
        from django.utils.translation import get_language

        text = str(self)
        zh, sep, en = text.partition(" / ")
        if not sep:
            return text
        return en.strip() if (get_language() or "").startswith("en") else zh.strip()


class IllegalTransition(RemediationError):
    status = 409


class Conflict(RemediationError):
    """Someone else changed the task first. `kept` holds what the caller submitted, so nothing is lost
    (a caller's own input only: never a value read on the server, which the caller may not see)."""

    status = 409

    def __init__(self, message: str, kept: dict | None = None):
        super().__init__(message)
        self.kept = kept or {}


class SelfApproval(RemediationError):
    status = 403


class RequestNumberRequired(RemediationError):
    pass


class NotAllowed(RemediationError):
    status = 403


class EvidenceRejected(RemediationError):
    pass
