"""Template filters of the findings pages."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

register = template.Library()

# The sources a check cites (custos.checks.catalogue: basis="M82, GB11643"), as readers know them.
BASIS_LABELS = {
    "M82": _("保监发〔2013〕82号"),
    "GB11643": _("GB 11643 公民身份号码"),
    "GB2260": _("GB/T 2260 行政区划代码"),
    "MIIT": _("工信部号段分配"),
    "Practice": _("业务惯例"),
}


@register.filter
def basis_label(value) -> str:
    """ "M82, GB11643" as 保监发〔2013〕82号；GB 11643 公民身份号码; a source not known here as written."""
    parts = [p.strip() for p in str(value or "").split(",") if p.strip()]
    sep = "；" if (get_language() or "").startswith("zh") else "; "
    return sep.join(str(BASIS_LABELS.get(p, p)) for p in parts)
