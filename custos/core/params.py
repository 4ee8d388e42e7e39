"""Ids and counts from a query string, checked before they reach the database.

A number the database cannot hold (beyond a 64-bit signed integer) made SQLite raise OverflowError
and PostgreSQL "bigint out of range" deep inside a filter: a 500. `id_param` refuses it, and anything
else that is not a plain positive whole number, with BadParameter — a django BadRequest that the
pages answer with a 400 naming the parameter (custos.web.middleware.BadRequestMiddleware). Use it
for every id a page reads from request.GET; the API declares the same bounds on its schemas
(ID_MAX with ninja's Field(ge=1, le=ID_MAX))."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _

ID_MAX = 2**63 - 1  # BigAutoField, bigint


class BadParameter(BadRequest):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def id_param(query, name: str) -> int | None:
    """query[name] as an id (1 … ID_MAX), None when absent or blank; BadParameter otherwise."""
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= ID_MAX:
        return int(raw)
    shown = raw if len(raw) <= 24 else raw[:24] + "…"
    raise BadParameter(
        name,
        _("参数 %(name)s 必须是 1 到 %(max)s 之间的整数，收到的是“%(value)s”。")
        % {"name": name, "max": ID_MAX, "value": shown},
    )
