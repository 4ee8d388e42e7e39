"""The deployment's own security state: the key status page and `custos security check`.

`findings()` returns one line per thing that is wrong (empty when all is well); `key_status()` is the
context of the key status page. Neither verifies the audit log in the request: they read the last
background verification (custos.audit.tasks), which `custos security check` runs itself."""

from __future__ import annotations

import datetime as dt
import os
import stat

from django.conf import settings
from django.utils import timezone

from custos import paths
from custos.crypto import keyring


def _created(value) -> dt.datetime | None:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return None


def keys(data: dict | None = None) -> list[dict]:
    """Every key of the keyring (never its secret): kind, id, created, age in days, due for rotation."""
    data = keyring.read() if data is None else data
    now = timezone.now()
    out = []
    for kind, entries in (
        ("data", data.get("data_keys") or []),
        ("audit_signing", data.get("audit_signing_keys") or []),
    ):
        for i, entry in enumerate(entries):
            created = _created(entry.get("created_at"))
            age = (now - created).days if created else None
            current = i == len(entries) - 1
            out.append(
                {
                    "kind": kind,
                    "id": entry.get("id", "?"),
                    "created": created,
                    "age_days": age,
                    "current": current,
                    "due": bool(current and age is not None and age > settings.CUSTOS_KEY_MAX_AGE_DAYS),
                }
            )
    return out


def keyring_mode() -> int | None:
    try:
        return stat.S_IMODE(os.stat(paths.keyring_path()).st_mode)
    except FileNotFoundError:
        return None


def key_status() -> dict:
    from custos.audit.models import AuditEntry, Checkpoint, VerifyRun

    last_cp = Checkpoint.objects.order_by("-tree_size").first()
    return {
        "keys": keys(),
        "keyring_mode": keyring_mode(),
        "max_age_days": settings.CUSTOS_KEY_MAX_AGE_DAYS,
        "entries": AuditEntry.objects.count(),
        "last_checkpoint": last_cp,
        "last_checkpoint_at": (
            dt.datetime.fromtimestamp(last_cp.at_us / 1e6, tz=dt.UTC) if last_cp else None
        ),
        "verify_runs": list(VerifyRun.objects.order_by("-created_at")[:5]),
        "retention_days": settings.CUSTOS_AUDIT_RETENTION_DAYS,
        "rotation": _rotation(),
        "index_key": _index_key(),
    }


def _index_key() -> dict:
    from custos.crypto import indexkey

    st = indexkey.state()
    if st["replaced_at"]:
        st["replaced_at"] = dt.datetime.fromisoformat(st["replaced_at"])
    return st


def _rotation() -> dict:
    """The last data-key rotation's progress (custos.crypto.rotate writes it batch by batch)."""
    from custos.crypto import rotate

    return rotate.read_status()


def _secret_key_from_keyring() -> bool:
    return keyring.read().get("django_secret_key") == settings.SECRET_KEY and not os.environ.get(
        "CUSTOS_SECRET_KEY"
    )


def _home_findings() -> list[str]:
    """CUSTOS_HOME holds the SQLite database, uploads, evidence and extraction files: 700, as
    `custos init` leaves it."""
    try:
        mode = stat.S_IMODE(os.stat(paths.home()).st_mode)
    except FileNotFoundError:
        return []
    if mode & 0o077:
        return [f"CUSTOS_HOME {paths.home()} has mode {mode:03o}, must be 700"]
    return []


def _lockout_findings() -> list[str]:
    """django-axes is on (its backend and middleware) and locks a username per address: by username
    alone anyone could lock any account (docs/security.md, sign-in)."""
    from django.utils.module_loading import import_string

    try:
        from axes.backends import AxesStandaloneBackend

        backends = [import_string(b) for b in settings.AUTHENTICATION_BACKENDS]
        has_backend = any(isinstance(b, type) and issubclass(b, AxesStandaloneBackend) for b in backends)
    except ImportError:
        has_backend = False
    if not has_backend or "axes.middleware.AxesMiddleware" not in settings.MIDDLEWARE:
        return ["no lock-out after failed logins (django-axes backend or middleware missing)"]
    params = getattr(settings, "AXES_LOCKOUT_PARAMETERS", None) or []
    combos = [[p] if isinstance(p, str) else list(p) for p in params]
    if any(set(c) <= {"username", "user_agent"} for c in combos):
        return [
            "lock-out by username alone: anyone can lock any account out "
            "(AXES_LOCKOUT_PARAMETERS must combine username and ip_address)"
        ]
    return []


def findings(*, verify_audit: bool = True) -> list[str]:
    """Everything wrong with this deployment, one line each."""
    out: list[str] = []
    if settings.DEBUG:
        out.append("DEBUG is on (CUSTOS_DEBUG=1): never in production")
    mode = keyring_mode()
    if mode is None:
        out.append(f"keyring {paths.keyring_path()} does not exist: run `custos init`")
    elif mode != 0o600:
        out.append(f"keyring {paths.keyring_path()} has mode {mode:03o}, must be 600")
    if mode is not None and not _secret_key_from_keyring():
        out.append("the Django secret key does not come from the keyring")
    if settings.SESSION_COOKIE_AGE > 60 * 60:
        out.append(f"session idle timeout is {settings.SESSION_COOKIE_AGE} s (more than one hour)")
    if not settings.SESSION_SAVE_EVERY_REQUEST:
        out.append("SESSION_SAVE_EVERY_REQUEST is off: the session timeout is not an idle timeout")
    if not settings.SESSION_COOKIE_HTTPONLY:
        out.append("session cookie readable by scripts (SESSION_COOKIE_HTTPONLY off)")
    if "csp.middleware.CSPMiddleware" not in settings.MIDDLEWARE or not getattr(
        settings, "CONTENT_SECURITY_POLICY", None
    ):
        out.append("no Content-Security-Policy (django-csp middleware or policy missing)")
    else:
        scripts = settings.CONTENT_SECURITY_POLICY.get("DIRECTIVES", {}).get("script-src", [])
        if any("unsafe" in s for s in scripts):
            out.append("Content-Security-Policy allows unsafe scripts")
    if "django.middleware.csrf.CsrfViewMiddleware" not in settings.MIDDLEWARE:
        out.append("CSRF middleware missing")
    if not settings.CUSTOS_OTP_REQUIRED:
        out.append("TOTP second factor is not required (CUSTOS_OTP_REQUIRED=0)")
    if not settings.SESSION_COOKIE_SECURE:
        out.append("cookies are not marked Secure (set CUSTOS_SECURE_COOKIES=1 behind TLS)")
    else:
        if not settings.CSRF_COOKIE_SECURE:
            out.append("the CSRF cookie is not marked Secure while the session cookie is")
        if not settings.SECURE_HSTS_SECONDS:
            out.append("no HSTS (SECURE_HSTS_SECONDS is 0) although custos runs behind TLS")
    if not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE:
        out.append("sessions outlive the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE off)")
    if "*" in settings.ALLOWED_HOSTS:
        out.append("ALLOWED_HOSTS accepts any host name ('*'): set CUSTOS_ALLOWED_HOSTS")
    out.extend(_home_findings())
    out.extend(_lockout_findings())
    if getattr(settings, "CUSTOS_API_DOCS_PUBLIC", False):
        out.append("the API schema and documentation are public (CUSTOS_API_DOCS_PUBLIC or CUSTOS_DEBUG on)")
    if "custos.web.middleware.NoStoreMiddleware" not in settings.MIDDLEWARE:
        out.append("responses may be cached: custos.web.middleware.NoStoreMiddleware is not in MIDDLEWARE")
    for key in keys():
        if key["due"]:
            out.append(
                f"{key['kind']} key {key['id']} is {key['age_days']} days old "
                f"(rotate after {settings.CUSTOS_KEY_MAX_AGE_DAYS})"
            )
    from custos.crypto import indexkey

    if indexkey.state()["pending"]:
        out.append(
            "a blind-index key replacement was interrupted: stop custos and run "
            "`custos keys replace-index-key --yes` again"
        )
    if verify_audit:
        from custos.audit import service
        from custos.audit.record import verify_changes

        try:
            service.checkpoint()
            result = service.verify()
            changes = verify_changes()
        except Exception as exc:
            out.append(f"audit log cannot be verified: {type(exc).__name__}: {exc}")
        else:
            out.extend(f"audit log: {p}" for p in result.problems + changes)
    return out
