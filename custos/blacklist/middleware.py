"""Members of the association (a role outside the company) use the blacklist look-up and nothing
else: every other page and API operation answers 403, whether they come with a session or with an
API token (the API authenticates later, in Django Ninja, so the token is resolved here too)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse

from custos.access.capabilities import is_outsider

MESSAGE = "a member of the association may use the blacklist look-up only"
ALLOWED = ("/api/v1/blacklist/", "/login/", "/logout/", "/i18n/", "/static/")


def _token_user(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("bearer "):
        return None
    from custos.api.models import ApiToken

    found = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.hash(header[7:].strip()), revoked=False)
        .first()
    )
    return found.user if found is not None else None


class ConfineOutsidersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(ALLOWED):
            user = getattr(request, "user", None)
            if request.path.startswith("/api/") and "HTTP_AUTHORIZATION" in request.META:
                user = _token_user(request)
            if user is not None and getattr(user, "is_authenticated", False) and is_outsider(user):
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": MESSAGE}, status=403)
                raise PermissionDenied(MESSAGE)  # the shell's 403 page
        return self.get_response(request)
