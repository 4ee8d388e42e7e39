from django import forms
from django.utils.translation import gettext_lazy as _

from custos.web.formkit import DatePickers


class SummaryForm(DatePickers, forms.Form):
    as_of = forms.DateField(label=_("截至日期"), required=False, input_formats=["%Y-%m-%d"])
    period = forms.ChoiceField(
        label=_("进度按"),
        required=False,
        choices=(("auto", _("自动")), ("week", _("周")), ("month", _("月"))),
    )
