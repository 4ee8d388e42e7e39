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
