"""Members of the association (a role outside the company) use the blacklist look-up and nothing
else: every other page and API operation answers 403, whether they come with a session or with an
API token (the API authenticates later, in Django Ninja, so the token is resolved here too). A session
is marked at sign-in (no query per page); a token is looked up on API paths only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

from custos.access.capabilities import is_outsider

SESSION_KEY = "custos_outsider"
MESSAGE = _("行业协会会员公司只能使用行业黑名单查询。")
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
            session = getattr(request, "session", None)
            outsider = bool(session is not None and session.get(SESSION_KEY))
            if not outsider and request.path.startswith("/api/") and "HTTP_AUTHORIZATION" in request.META:
                user = _token_user(request)
                outsider = user is not None and is_outsider(user)
            if outsider:
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": str(MESSAGE)}, status=403, json_dumps_params={"ensure_ascii": False}
                    )
                raise PermissionDenied(MESSAGE)  # the shell's 403 page
        return self.get_response(request)


def mark_session(sender, request, user, **kwargs) -> None:
    """user_logged_in: remember in the session whether the user is an outsider."""
    if getattr(request, "session", None) is not None:
        request.session[SESSION_KEY] = is_outsider(user)
