from django import forms
from django.utils.translation import gettext_lazy as _

SAME = ("same", "accept")  # accept / reject are the same as same / distinct


class DecideForm(forms.Form):
    """A clerical decision on a review pair: the same customer or two, with a note."""

    decision = forms.ChoiceField(
        choices=[
            ("same", _("同一客户")),
            ("distinct", _("不同客户")),
            ("accept", _("同一客户")),
            ("reject", _("不同客户")),
        ],
        label=_("结论"),
    )
    note = forms.CharField(max_length=500, label=_("说明"), strip=True, required=False)
