"""Template filters of the shell."""

from django import template
from django.utils.translation import get_language

from custos.domain import codes

register = template.Library()

_LISTS = {
    "role": codes.ROLE,
    "relation": codes.RELATION,
    "id_type": codes.ID_TYPE,
    "gender": codes.GENDER,
    "channel": codes.CHANNEL,
}


@register.filter
def code_label(value, kind: str):
    """A book code as the reader's language shows it: 投保人 in Chinese, applicant in English."""
    labels = _LISTS.get(kind, {}).get(value)
    if not labels or not (get_language() or "").startswith("zh"):
        return value
    return labels[0]
