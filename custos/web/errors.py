"""The 404 and 500 pages in the shell's style and the reader's language (handler404, handler500).

The 404 page is a page of the shell (menu and breadcrumbs for a signed-in user); if the shell cannot
be drawn (the database is down), it falls back to the bare page. The 500 page never touches the
database, the session or the template context processors: it is drawn from the request's language
(cookie or Accept-Language) alone, and as fixed text if even the template fails."""

from __future__ import annotations

import logging

from django.http import HttpResponseNotFound, HttpResponseServerError
from django.template import loader
from django.utils import translation

log = logging.getLogger(__name__)

FALLBACK_500 = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8"><title>500 · custos</title></head>'
    "<body><h1>服务器内部错误 · Server error</h1><p>请稍后再试。· Please try again later.</p></body></html>"
)


def _language(request) -> str:
    try:
        return translation.get_language_from_request(request)
    except Exception:  # noqa: BLE001 - a broken request still gets its page
        return translation.get_language() or "zh-hans"


def _bare(template: str, request, status: int) -> str:
    with translation.override(_language(request)):
        return loader.get_template(template).render(
            {
                "LANGUAGE_CODE": translation.get_language(),
                "status": status,
                "path": getattr(request, "path", ""),
            }
        )


def not_found(request, exception=None):
    try:
        body = loader.get_template("web/404.html").render({"status": 404}, request)
    except Exception:  # noqa: BLE001 - e.g. the database behind the shell's context is down
        log.exception("404 page drawn without the shell")
        try:
            body = _bare("web/404_bare.html", request, 404)
        except Exception:  # noqa: BLE001
            body = "<h1>404</h1>"
    return HttpResponseNotFound(body)


def server_error(request, *args, **kwargs):
    try:
        body = _bare("web/500.html", request, 500)
    except Exception:  # noqa: BLE001 - the last page must not fail
        log.exception("500 page drawn as fixed text")
        body = FALLBACK_500
    return HttpResponseServerError(body)
