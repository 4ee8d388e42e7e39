"""Refusals: every refused remediation action is a RemediationError subclass."""

from __future__ import annotations

# --- refusals -------------------------------------------------------------------------------------


class RemediationError(Exception):
    """A refused action; str() is the message, translated (gettext) into the language active when
    it was raised: the page's or the API request's (language cookie), else Chinese."""

    status = 400

    def localized(self) -> str:
        """The message for a page (already in the request's language)."""
        return str(self)


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
