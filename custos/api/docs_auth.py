"""The API's schema and documentation (/api/v1/openapi.json, /api/v1/docs) behind sign-in.

They list every operation, parameter and field of custos's API — a map for an attacker — so outside
development they need what the API itself needs: a valid bearer token, or a signed-in session (with
its second factor where the role needs one). settings.CUSTOS_API_DOCS_PUBLIC (on with CUSTOS_DEBUG=1,
or CUSTOS_API_DOCS_PUBLIC=1) opens them; `custos security check` reports that."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse


def _signed_in(request) -> bool:
    from custos.access.middleware import otp_required

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return not otp_required(user) or user.is_verified()
    if request.headers.get("Authorization", "").startswith("Bearer "):
        from custos.api.api import TokenAuth

        return TokenAuth()(request) is not None
    return False


def require_sign_in(view):
    """Ninja's docs_decorator: 401 for the schema, the sign-in page for the documentation."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if settings.CUSTOS_API_DOCS_PUBLIC or _signed_in(request):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            return JsonResponse(
                {"detail": "sign in or send a bearer token to read the API schema"}, status=401
            )
        return redirect_to_login(request.get_full_path())

    return wrapped
