from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from custos.discipline.models import Violation


class ProposeForm(forms.Form):
    staff_no = forms.CharField(label=_("员工工号"), max_length=64)
    kind = forms.ChoiceField(label=_("违规类型"), choices=Violation.Kind.choices)
    summary = forms.CharField(
        label=_("违规事实"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("写明时间、经过和依据；不要写入客户的证件号码、电话或地址。"),
    )
    finding = forms.IntegerField(label=_("相关问题编号"), required=False, min_value=1)
    # an alert or a leak trace the proposal comes from ("alert:<id>", "trace:<id>"; custos.watch.sources)
    source = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class NotifyForm(forms.Form):
    note = forms.CharField(label=_("告知说明"), max_length=500, required=False)


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("决定"), choices=Violation.Outcome.choices)
    reason = forms.CharField(label=_("决定理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    dismiss = forms.BooleanField(
        label=_("解除劳动合同并提名行业黑名单"),
        required=False,
        help_text=_("仅适用于成立的泄露或倒卖客户信息案件：当日停用其全部账号和接口令牌。"),
    )

    def __init__(self, *args, case: Violation | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if case is not None and case.kind != Violation.Kind.RESALE:
            del self.fields["dismiss"]

    def clean(self):
        data = super().clean()
        if data.get("dismiss") and data.get("outcome") != Violation.Outcome.UPHELD:
            self.add_error("dismiss", _("只有违规成立的案件可以解除劳动合同。"))
        return data


class WaiveForm(forms.Form):
    note = forms.CharField(label=_("免除理由"), max_length=500)


class AppealForm(forms.Form):
    note = forms.CharField(label=_("申诉理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    file = forms.FileField(
        label=_("申诉材料"),
        required=False,
        help_text=_("PDF、JPEG 或 PNG，不超过 5 MB；加密保存。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )


class MonthForm(forms.Form):
    month = forms.RegexField(
        label=_("月份"),
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        error_messages={"invalid": _("月份须为 YYYY-MM。")},
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )
