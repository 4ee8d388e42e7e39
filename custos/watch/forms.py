from django import forms
from django.utils.translation import gettext_lazy as _

from custos.watch.models import AccessAlert


class TriageForm(forms.Form):
    verdict = forms.ChoiceField(
        label=_("研判结论"),
        choices=[(AccessAlert.Status.TRUE, _("属实（确有违规获取）")), (AccessAlert.Status.FALSE, _("误报"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("说明"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class QueueFilter(forms.Form):
    show = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("open", _("待研判")), ("true", _("属实")), ("false", _("误报")), ("all", _("全部"))],
    )
