"""Template filters of the extraction pages."""

from django import template

from custos.extraction.models import Extraction

register = template.Library()


@register.filter
def state_label(value) -> str:
    """An extraction's state (requested) by its label (待审批); '' for none."""
    return str(dict(Extraction.State.choices).get(value, value)) if value else ""
