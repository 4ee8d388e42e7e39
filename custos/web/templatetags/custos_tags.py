"""Template filters of the shell."""

from django import template

from custos.book.labels import TABLE_LABELS, code_value, label

register = template.Library()


@register.filter
def code_label(value, kind: str):
    """A book code as the reader's language shows it: 投保人 in Chinese, applicant in English."""
    return code_value(kind, value)


@register.filter
def table_label(name: str) -> str:
    """A table of the book format as 保单 (policies): the label, and the file name it comes from."""
    text = label(TABLE_LABELS, name)
    return text if text.lower() == name else f"{text} ({name})"


@register.filter
def json_list(value) -> str:
    """An audit entry's JSON list of ids or field names as 'a, b, c' (the text itself if it is not one)."""
    import json

    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value
    if not isinstance(items, list):
        return value
    return ", ".join(str(i) for i in items)
