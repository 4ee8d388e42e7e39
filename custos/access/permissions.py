"""Former home of the role checks; every decision is now in custos.access.capabilities (the table).
These names stay for callers not moved yet and answer from the table."""

from custos.access.capabilities import can, role_of

__all__ = ["can_see_load_errors", "can_upload_books", "has_profile", "role_of"]


def can_upload_books(user) -> bool:
    return can(user, "book.upload")


def can_see_load_errors(user) -> bool:
    return can(user, "load.errors")


def has_profile(user) -> bool:
    return role_of(user) is not None
