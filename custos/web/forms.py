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
    policy_no = forms.CharField(label=_("保单号"), max_length=64, strip=True, required=False)


class PersonSearchForm(forms.Form):
    """A search on a person's values: sent by POST (never in a URL), never shown back in clear."""

    id_no = forms.CharField(label=_("证件号码"), max_length=32, strip=True, required=False)
    mobile = forms.RegexField(
        label=_("手机"),
        regex=r"^[0-9+ -]{11,20}$",
        max_length=20,
        strip=True,
        required=False,
        error_messages={"invalid": _("请输入 11 位手机号码。")},
    )
    name = forms.CharField(label=_("姓名"), max_length=100, strip=True, required=False)
    birth_date = forms.DateField(
        label=_("出生日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("name")) != bool(data.get("birth_date")) and not self.errors:
            missing = "birth_date" if data.get("name") else "name"
            self.add_error(missing, _("按姓名查询须同时填写姓名和出生日期。"))
        elif not self.errors and not (data.get("id_no") or data.get("mobile") or data.get("name")):
            raise forms.ValidationError(_("请填写证件号码、手机，或姓名与出生日期。"))
        return data


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
