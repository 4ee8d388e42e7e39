"""Template filters of the shell: book codes, organisation and statuses as the reader's language shows
them (custos/book/labels.py holds the tables)."""

from django import template
from django.utils.translation import pgettext_lazy

from custos.book.labels import (
    FIELD_LABELS,
    ROLE_LABELS,
    TABLE_LABELS,
    branch_path,
    code_value,
    label,
    org_label,
)
from custos.book.load_messages import localize

register = template.Library()

# Statuses the shell shows that are not a model's choices (those use get_FOO_display).
STATUS_LABELS = {
    "passed": pgettext_lazy("status", "通过"),
    "failed": pgettext_lazy("status", "未通过"),
    "queued": pgettext_lazy("status", "排队中"),
    "running": pgettext_lazy("status", "运行中"),
    "done": pgettext_lazy("status", "已完成"),
    "ok": pgettext_lazy("status", "正常"),
    "error": pgettext_lazy("status", "错误"),
    "open": pgettext_lazy("status", "未处理"),
    "closed": pgettext_lazy("status", "已关闭"),
    "pending": pgettext_lazy("status", "待处理"),
    "certain": pgettext_lazy("confidence", "确定"),
    "high": pgettext_lazy("confidence", "高"),
    "medium": pgettext_lazy("confidence", "中"),
    "low": pgettext_lazy("confidence", "低"),
}


@register.filter
def code_label(value, kind: str):
    """A book code as the reader's language shows it: 投保人 in Chinese, Applicant in English."""
    return code_value(kind, value)


@register.filter
def channel_label(value) -> str:
    """A sales channel: 银保 in Chinese, Bancassurance in English; '—' for none."""
    return code_value("channel", value) or "—"


@register.filter
def role_label(value) -> str:
    """A party's role (applicant, insured, beneficiary) or a finding's (policy): 投保人, 保单."""
    return label(ROLE_LABELS, value)


@register.filter
def party_label(value) -> str:
    """A finding's or task's party key "policy/0", "applicant/1": 保单, 投保人 1."""
    if not value:
        return ""
    role, _, seq = str(value).partition("/")
    shown = label(ROLE_LABELS, role)
    return shown if role == "policy" or not seq else f"{shown} {seq}"


@register.filter
def status_label(value) -> str:
    """A status or confidence word (passed, queued, certain, low) in the reader's language."""
    return label(STATUS_LABELS, str(value).lower()) if value else ""


@register.filter
def branch_label(code) -> str:
    """石家庄中心支公司（130100）; the code alone when the book does not know it."""
    return org_label("branch", code)


@register.filter
def partner_label(code) -> str:
    return org_label("partner", code)


@register.filter
def staff_label(code) -> str:
    """业务员 张*伟（A000123）: position, masked name, staff number."""
    return org_label("staff", code)


@register.filter
def branch_trail(code) -> str:
    """The branch's place in the hierarchy: 总公司 / 河北分公司 / 石家庄中心支公司（130100）."""
    path = branch_path(code)
    if not path:
        return org_label("branch", code)
    return " / ".join([name for _c, name in path[:-1]] + [org_label("branch", code)])


@register.filter
def load_message(text) -> str:
    """A loader's error, warning or progress note in the reader's language."""
    return localize(text)


@register.filter
def field_label(name) -> str:
    """A field of the book (id_no) by its label (证件号码); the name itself when it has none."""
    return label(FIELD_LABELS, name)


@register.filter
def table_label(name: str) -> str:
    """A table of the book format as 保单 (policies): the label, and the file name it comes from."""
    text = label(TABLE_LABELS, name)
    return text if text.lower() == name else f"{text} ({name})"
