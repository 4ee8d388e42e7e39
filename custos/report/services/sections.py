"""Sections other apps provide: violations and fines (custos.discipline) and partners recommended for
termination (custos.partnership).

A provider is a function `provider(as_of: date, policies: QuerySet) -> dict` returning
{"columns": [(label, kind), …], "rows": [[…], …], "total": […] or None, "note": "…"} with kinds of
custos/report/services/tables.py (text, int, money as Decimal yuan, rate as a fraction). Where it lives
is settings.CUSTOS_REPORT_SECTIONS (section → "module:function"), by default PROVIDERS below. While
the app is not installed, or has no provider yet, the section is an empty table saying so: the
report never fails for a part that is still being built.
"""

from __future__ import annotations

import datetime as dt
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.utils.translation import gettext as _

from custos.report.services.tables import Column, Table, from_provider

# section → (the app that owns it, "module:function")
PROVIDERS = {
    "violations": ("custos.discipline", "custos.discipline.report:summary_section"),
    "partners": ("custos.partnership", "custos.partnership.report:summary_section"),
}


def _provider(section: str):
    app, default = PROVIDERS[section]
    path = getattr(settings, "CUSTOS_REPORT_SECTIONS", {}).get(section, default)
    if not apps.is_installed(app):
        return None, _("%(app)s 尚未安装。") % {"app": app}
    module, _sep, name = path.partition(":")
    try:
        fn = getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return None, _("%(app)s 尚未提供本节数据（%(path)s）。") % {"app": app, "path": path}
    return fn, ""


def section(key: str, title: str, placeholder: list[Column], as_of: dt.date, policies) -> Table:
    fn, why = _provider(key)
    if fn is None:
        return Table(key, title, placeholder, note=_("本节暂无数据：") + why)
    return from_provider(key, title, fn(as_of, policies))


def violations(as_of: dt.date, policies) -> Table:
    return section(
        "violations",
        _("违规处理与罚款"),
        [
            Column(_("违规类型")),
            Column(_("案件数"), "int"),
            Column(_("已决定"), "int"),
            Column(_("罚款（元）"), "money"),
        ],
        as_of,
        policies,
    )


def partners(as_of: dt.date, policies) -> Table:
    return section(
        "partners",
        _("建议终止合作的机构"),
        [Column(_("合作机构")), Column(_("未更正保单"), "int"), Column(_("状态"))],
        as_of,
        policies,
    )
