"""Second factor: a signed-in user of a role that holds a capability marked second_factor in the
table (unmask, extraction approval, keys; settings.CUSTOS_OTP_ROLES overrides)
must have verified a TOTP code in this session before any page but sign-in, sign-out and the two OTP
pages. The API authenticates with bearer tokens, not sessions, and is not affected."""

from django.shortcuts import redirect

from custos.access.capabilities import needs_second_factor

ALLOWED_PREFIXES = ("/login/", "/logout/", "/otp/", "/static/", "/i18n/", "/api/")


def otp_required(user) -> bool:
    return needs_second_factor(user)


class RequireOTPMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and not user.is_verified()
            and otp_required(user)
        ):
            from django_otp.plugins.otp_totp.models import TOTPDevice

            has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            target = "otp-verify" if has_device else "otp-setup"
            response = redirect(target)
            response["Location"] += "?next=" + request.get_full_path()[:500]
            return response
        return self.get_response(request)
