"""An audit entry's purpose as the reader's language shows it.

The log keeps the purpose as it was written (it is hashed: never rewritten). Purposes written by
custos itself are short English notes ("search by policy_no; page 1", "inclusion"); pages show the
known ones in the reader's language, with their parameters. What users typed (an extraction's
purpose, an unmask's free text) and notes not known here show as written."""

from __future__ import annotations

import re

from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from custos.book.labels import FIELD_LABELS, label

# purposes written whole
FIXED = {
    "list": gettext_lazy("清单"),
    "inclusion": gettext_lazy("包含证明"),
    "consistency": gettext_lazy("一致性证明"),
    "unmask page": gettext_lazy("查看明文页面"),
    "customer letter: the addressee's full name": gettext_lazy("客户信函：收件人全名"),
    "identity review queue": gettext_lazy("客户归并复核清单"),
}
PERSON = re.compile(r"^person (?P<pid>P[0-9]{8})$")  # a person's page (custos.identity)
SEARCH_PAGE = re.compile(r"^(?:search by (?P<kinds>[\w+, ]+)|list); page (?P<page>\d+)$")
CRITERIA = re.compile(r"^search(?P<criteria>(?: \w+=\S+)*)$")
EXTRACTION = re.compile(r"^extraction #(?P<n>\d+): (?P<text>.*)$", re.S)


def _sep(zh: str) -> str:
    return zh if (get_language() or "").startswith("zh") else ", "


def _field(name: str) -> str:
    return "+".join(label(FIELD_LABELS, part) for part in name.split("+"))


def purpose_label(purpose: str) -> str:
    text = (purpose or "").strip()
    if text in FIXED:
        return str(FIXED[text])
    if m := SEARCH_PAGE.match(text):
        if not m["kinds"]:
            what = str(FIXED["list"])
        else:
            kinds = _sep("、").join(_field(k.strip()) for k in m["kinds"].split(","))
            what = _("按%(kinds)s查询") % {"kinds": kinds}
        return _("%(what)s，第 %(n)s 页") % {"what": what, "n": m["page"]}
    if m := CRITERIA.match(text):
        parts = [p.split("=", 1) for p in m["criteria"].split()]
        shown = _sep("，").join(f"{_CRITERIA_LABELS.get(k, k)}={_criterion(k, v)}" for k, v in parts)
        return _("查询：%(criteria)s") % {"criteria": shown} if shown else _("查询")
    if m := PERSON.match(text):
        return _("客户 %(pid)s") % {"pid": m["pid"]}
    if m := EXTRACTION.match(text):  # the requester's own words follow
        return _("数据提取 #%(n)s：%(text)s") % {"n": m["n"], "text": m["text"]}
    return text


def _criterion(key: str, value: str) -> str:
    from custos.audit.actions import ACTIONS, OUTCOMES

    table = {"action": ACTIONS, "outcome": OUTCOMES}.get(key, {})
    return str(table.get(value, value))


_CRITERIA_LABELS = {
    "username": gettext_lazy("用户名"),
    "staff_no": gettext_lazy("工号"),
    "action": gettext_lazy("操作"),
    "outcome": gettext_lazy("结果"),
    "since": gettext_lazy("起始时间"),
    "until": gettext_lazy("截止时间"),
    "record": gettext_lazy("记录编号"),
}
