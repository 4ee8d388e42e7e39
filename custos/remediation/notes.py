"""The notes custos writes on task events, in the reader's language.

Services record an event's ``reason`` as a short English text (the API returns it as it is, and an
event written before this module is still read). The task page shows it through ``event_note``,
which recognises the forms the services write (``check run #3``, ``phone: reached``, ``approved mobile
…``) and renders them in the interface's language; a note it does not recognise — a person's own
words — is shown unchanged.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from custos.book.labels import FIELD_LABELS, label
from custos.remediation.models import ContactAttempt, Task

_FIELD = r"(?P<field>[a-z_]+)"
_NOTE = r"(?:[ :]+(?P<note>.*))?"
_FORMS = [
    (r"check run #(?P<run>\d+)", _("检查 #%(run)s 发现问题")),
    (r"all findings passed check run #(?P<run>\d+)", _("检查 #%(run)s：全部问题已通过")),
    (r"(?P<method>phone|sms|letter|onsite): (?P<outcome>[a-z_]+)", _("%(method)s：%(outcome)s")),
    (rf"correction of {_FIELD}", _("提交更正：%(field)s")),
    (rf"{_FIELD}: (?P<decision>True|False)", _("复核更正：%(field)s")),
    (rf"approved {_FIELD}{_NOTE}", _("更正通过：%(field)s")),
    (rf"rejected {_FIELD}{_NOTE}", _("更正退回：%(field)s")),
    (rf"return visit ok{_NOTE}", _("回访确认")),
    (rf"return visit failed{_NOTE}", _("回访未通过")),
    (rf"sample failed{_NOTE}", _("抽检不通过")),
    (rf"sample of task #(?P<task>\d+){_NOTE}", _("任务 #%(task)s 抽检不通过")),
]
# Forms written only with one action (a bare rule name or date means something only there).
_ACTION_FORMS = {
    "remind": [(r"due (?P<due>\d{4}-\d{2}-\d{2})", _("截止日期 %(due)s"))],
    "escalate": [
        (r"overdue → manager", _("逾期，升级至主管")),
        (r"overdue → compliance", _("逾期，升级至合规")),
    ],
    "assign": [(r"(?P<rule>partner|agent|channel_manager)", _("按规则指派：%(rule)s"))],
}


def _compiled(forms):
    return [(re.compile(pattern + r"\Z", re.S), text) for pattern, text in forms]


_COMPILED = _compiled(_FORMS)
_METHODS = dict(ContactAttempt.Method.choices)  # lazy labels: translated when shown
_OUTCOMES = dict(ContactAttempt.Outcome.choices)
_RULES = dict(Task.Rule.choices)
_ACTION_COMPILED = {action: _compiled(forms) for action, forms in _ACTION_FORMS.items()}


def event_note(reason: str, action: str = "") -> str:
    """``reason`` as the reader's language says it (a person's own words after the form unchanged)."""
    for pattern, text in [*_ACTION_COMPILED.get(action, []), *_COMPILED]:
        m = pattern.match(reason or "")
        if not m:
            continue
        parts = m.groupdict()
        values = {
            "run": parts.get("run"),
            "task": parts.get("task"),
            "due": parts.get("due"),
            "field": label(FIELD_LABELS, parts.get("field")),
            "method": label(_METHODS, parts.get("method")),
            "outcome": label(_OUTCOMES, parts.get("outcome")),
            "rule": label(_RULES, parts.get("rule")),
        }
        said = str(text) % values
        note = (parts.get("note") or "").strip()
        return f"{said} {note}" if note else said
    return reason
