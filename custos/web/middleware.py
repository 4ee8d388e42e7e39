"""Simplified Chinese unless the user chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language; custos is an insurer's intranet
system whose working language is Chinese whatever the browser says, so only the language a user
picked with the switcher (the language cookie) overrides settings.LANGUAGE_CODE.
"""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db import DataError
from django.http import HttpResponseBadRequest, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

log = logging.getLogger("custos.security")


class ChineseByDefaultLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class RejectNulMiddleware:
    """A NUL character in a URL's path or query string is never meaningful input, and PostgreSQL
    refuses it in any string literal (a 500 deep inside a filter). Refuse it up front with a 400 that
    names the parameter. Forms and the API's JSON bodies validate their own fields."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return self._refuse(request, "NUL character in the URL path")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return self._refuse(
                    request, f"NUL character in query parameter {name.replace(chr(0), '?')[:64]!r}"
                )
        return self.get_response(request)

    @staticmethod
    def _refuse(request, detail: str):
        if request.path.startswith("/api/"):  # the API's documented 400: {"detail": …}
            return JsonResponse({"detail": detail}, status=400)
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")


class NoStoreMiddleware:
    """`Cache-Control: no-store` (with no-cache, must-revalidate, private and max-age=0) on every
    response custos generates: pages, htmx fragments, API answers, downloads, error pages. Nearly all
    of them carry personal data, masked or not, or who-did-what; a browser's disk cache, a shared
    proxy or the back button must keep none of it. Deciding per view would leave the next new page
    cacheable, so the rule is global; static files (CSS, JS, fonts, served by WhiteNoise under
    STATIC_URL) are the one exception and keep their caching. Second in MIDDLEWARE, so that the
    answers of the middleware after it (400 for a NUL, the lock-out page) pass through it too."""

    def __init__(self, get_response):
        self.get_response = get_response
        static = settings.STATIC_URL or "/static/"
        self.static_prefix = static if "://" in static else "/" + static.lstrip("/")

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(self.static_prefix):
            return response
        if "no-store" not in response.get("Cache-Control", ""):  # a view's own no-store stays as set
            add_never_cache_headers(response)
        return response


class BadRequestMiddleware:
    """Input a view cannot serve is a 400 that says why, never a 500: a BadRequest raised by a view
    (custos.core.params.BadParameter names the parameter), and — the net under every page's own
    checks — a value the database cannot hold (SQLite's OverflowError for an integer beyond 64 bits,
    PostgreSQL's DataError: a number out of range, a NUL character). The API's own operations answer
    these through their exception handlers (custos.api.api); this covers what reaches Django."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, BadRequest):
            message = str(exception) or _("请求无效。")
        elif isinstance(exception, OverflowError | DataError):
            log.warning(
                "400 for a value the database cannot hold: %s %s: %s", request.method, request.path, exception
            )
            message = _("请求中有数据库无法保存的值（超出范围的数字或空字符）。")
        else:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return render(request, "web/400.html", {"reason": message}, status=400)


class FailClosedMiddleware:
    """The net under every page and endpoint that reads or changes customer information: when the
    audit log cannot take the entry (ReadLogUnavailable for a read, AuditWriteError for a change
    recorded through custos.audit.record), nothing was returned or changed, and the answer is a 503
    that says so, not a 500. Views that handle these themselves keep their own answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from custos.access.readlog import ReadLogUnavailable
        from custos.audit.service import AuditWriteError

        if isinstance(exception, ReadLogUnavailable):
            write = False
        elif isinstance(exception, AuditWriteError):
            write = True
        else:
            return None
        log.error("503, the audit log is unavailable: %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            detail = _("审计日志不可用，操作未执行。") if write else _("审计日志不可用，未返回任何客户信息。")
            return JsonResponse({"detail": str(detail)}, status=503)
        return render(request, "web/audit_unavailable.html", {"write": write}, status=503)
