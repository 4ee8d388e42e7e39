"""Template filters of the shell."""

from django import template

from custos.book.labels import code_value

register = template.Library()


@register.filter
def code_label(value, kind: str):
    """A book code as the reader's language shows it: 投保人 in Chinese, applicant in English."""
    return code_value(kind, value)
