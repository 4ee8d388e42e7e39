"""The blacklist exchange's settings, read when used (tests and the demo change them)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


def role() -> str:
    """ "association" (keeps the list, serves the look-up) or "member" (checks its staff)."""
    return (getattr(settings, "CUSTOS_BLACKLIST_ROLE", "") or "member").strip().lower()


def is_association() -> bool:
    return role() == "association"


def url() -> str:
    return (getattr(settings, "CUSTOS_BLACKLIST_URL", "") or "").rstrip("/")


def token() -> str:
    return getattr(settings, "CUSTOS_BLACKLIST_TOKEN", "") or ""


def timeout() -> float:
    return float(getattr(settings, "CUSTOS_BLACKLIST_TIMEOUT", 10))


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    requests: int  # look-ups per member and window
    items: int  # ID numbers per member and window
    max_items: int  # ID numbers in one look-up
    skew_seconds: int  # how far a request's timestamp may be from the association's clock


def limits() -> Limits:
    return Limits(
        window_seconds=int(getattr(settings, "CUSTOS_BLACKLIST_WINDOW_SECONDS", 3600)),
        requests=int(getattr(settings, "CUSTOS_BLACKLIST_MAX_REQUESTS", 120)),
        items=int(getattr(settings, "CUSTOS_BLACKLIST_MAX_ITEMS", 20000)),
        max_items=int(getattr(settings, "CUSTOS_BLACKLIST_MAX_ITEMS_PER_REQUEST", 10000)),
        skew_seconds=int(getattr(settings, "CUSTOS_BLACKLIST_SKEW_SECONDS", 300)),
    )
