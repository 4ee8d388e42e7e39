"""What a role may do besides reading personal data (which is the access service's business)."""

from custos.access.models import Profile, Role

UPLOAD_ROLES = frozenset({Role.COMPLIANCE, Role.IT_SECURITY})
# Load errors may quote values from the book; only these roles see the error details.
LOAD_ERROR_ROLES = frozenset({Role.COMPLIANCE, Role.IT_SECURITY, Role.AUDITOR})


def role_of(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Profile.objects.filter(user=user).values_list("role", flat=True).first()


def can_upload_books(user) -> bool:
    return role_of(user) in UPLOAD_ROLES


def can_see_load_errors(user) -> bool:
    return role_of(user) in LOAD_ERROR_ROLES


def has_profile(user) -> bool:
    return role_of(user) is not None
