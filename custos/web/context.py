"""Template context of the shell: who is looking (for the header and the screen watermark)."""

from django.utils import timezone

from custos.access.models import Profile


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = Profile.objects.filter(user=user).first()
    mark = (profile.staff_no if profile and profile.staff_no else user.username) or "?"
    now = timezone.localtime()
    return {
        "viewer_profile": profile,
        "viewer_mark": f"{mark} · {user.username} · {now:%Y-%m-%d %H:%M}",
    }
