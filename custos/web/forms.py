from django import forms
from django.utils.translation import gettext_lazy as _

from custos.access.unmask import PURPOSES
from custos.audit.actions import action_choices, outcome_choices
from custos.book.models import BookLoad
from custos.core.uploads import ALLOWED_SUFFIXES


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("数据册文件"),
        help_text=_("ZIP 压缩的文件夹、一个 xlsx 工作簿，或单个 CSV / Parquet 文件"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ALLOWED_SUFFIXES)}),
    )
    mode = forms.ChoiceField(label=_("加载方式"), choices=BookLoad.Mode.choices, initial=BookLoad.Mode.FULL)


class LookupForm(forms.Form):
    policy_no = forms.CharField(label=_("保单号"), max_length=64, strip=True)


class UnmaskForm(forms.Form):
    purpose = forms.ChoiceField(label=_("查看目的"), choices=[("", "—")] + [(c, lbl) for c, lbl in PURPOSES])
    purpose_text = forms.CharField(
        label=_("说明"), max_length=500, required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("purpose") == "other" and not data.get("purpose_text"):
            self.add_error("purpose_text", _("选择“其他”时必须填写说明。"))
        return data


class OTPForm(forms.Form):
    token = forms.RegexField(
        label=_("动态验证码"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("请输入 6 位数字验证码。")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class AuditSearchForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150, required=False, strip=True)
    staff_no = forms.CharField(label=_("工号"), max_length=64, required=False, strip=True)
    # every action and outcome the log can hold (custos.audit.actions: append refuses any other)
    action = forms.ChoiceField(
        label=_("操作"), required=False, choices=lambda: [("", "—"), *action_choices()]
    )
    outcome = forms.ChoiceField(
        label=_("结果"), required=False, choices=lambda: [("", "—"), *outcome_choices()]
    )
    since = forms.DateTimeField(label=_("起始时间"), required=False)
    until = forms.DateTimeField(label=_("截止时间"), required=False)
    record = forms.RegexField(
        label=_("记录编号"), regex=r"^[A-Za-z0-9_-]{1,64}$", max_length=64, required=False, strip=True
    )
