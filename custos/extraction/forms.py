from django import forms
from django.utils.translation import gettext_lazy as _

from custos.book.labels import CODE_LABELS
from custos.extraction.models import Extraction
from custos.extraction.workflow import FIELD_LABELS, JUSTIFICATION_MIN, SENSITIVE_FIELDS


def _choices(kind: str) -> list[tuple[str, str]]:
    return [("", _("全部")), *CODE_LABELS[kind].items()]


class RequestForm(forms.Form):
    purpose = forms.CharField(label=_("提取用途"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    branch = forms.CharField(label=_("机构（含下级）"), max_length=64, required=False)
    channel = forms.ChoiceField(label=_("渠道"), choices=_choices("channel"), required=False)
    status = forms.ChoiceField(label=_("保单状态"), choices=_choices("policy_status"), required=False)
    date_from = forms.DateField(
        label=_("承保日期自"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("承保日期至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    fields = forms.MultipleChoiceField(
        label=_("字段"),
        # a callable: the labels in the reader's language, not the one active when this module loaded
        choices=lambda: [
            (f, f"{lbl}{' *' if f in SENSITIVE_FIELDS else ''}") for f, lbl in FIELD_LABELS.items()
        ],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("带 * 的字段（证件号码、电话、地址、邮箱）须说明理由。保单号、角色、序号总会包含。"),
    )
    justification = forms.CharField(
        label=_("理由"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    recipient_username = forms.CharField(label=_("接收人（系统用户名）"), max_length=150, required=False)
    recipient_name = forms.CharField(label=_("或外部接收人姓名"), max_length=200, required=False)
    recipient_org = forms.CharField(label=_("外部接收人单位"), max_length=200, required=False)
    recipient_partner_code = forms.CharField(
        label=_("合作机构代码（如接收单位是合作机构）"), max_length=64, required=False
    )
    file_format = forms.ChoiceField(label=_("文件格式"), choices=Extraction.Format.choices, initial="xlsx")

    def clean_recipient_username(self):
        # looked up by the service, which answers alike for an unknown user and one who may not receive
        return self.cleaned_data.get("recipient_username", "").strip()

    def clean(self):
        """What the form can tell on its own, next to the field it is about (the service checks all of
        it again, and the rest: scope, recipient, row limit)."""
        d = super().clean()
        d0, d1 = d.get("date_from"), d.get("date_to")
        if d0 and d1 and d1 < d0:
            self.add_error(
                "date_to",
                _("截止日期（%(to)s）早于起始日期（%(from)s）：请选择不早于起始日期的日期。")
                % {"to": d1.isoformat(), "from": d0.isoformat()},
            )
        sensitive = SENSITIVE_FIELDS & set(d.get("fields") or ())
        if sensitive and len((d.get("justification") or "").strip()) < JUSTIFICATION_MIN:
            self.add_error(
                "justification",
                _("提取证件号码、电话或地址等字段须说明理由（至少 %(n)s 个字）。") % {"n": JUSTIFICATION_MIN},
            )
        named = bool(d.get("recipient_username"))
        external = bool((d.get("recipient_name") or "").strip() or (d.get("recipient_org") or "").strip())
        if named and external:
            self.add_error("recipient_name", _("接收人只能是一名系统用户或一名外部人员，不能两者都填。"))
        elif not named and not external:
            self.add_error("recipient_username", _("请指定接收人：系统用户，或外部人员的姓名和单位。"))
        elif external and not (
            (d.get("recipient_name") or "").strip() and (d.get("recipient_org") or "").strip()
        ):
            field = "recipient_org" if (d.get("recipient_name") or "").strip() else "recipient_name"
            self.add_error(field, _("外部接收人须填写姓名和单位。"))
        return d


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("意见"), max_length=500, required=False)


class TraceForm(forms.Form):
    file = forms.FileField(
        label=_("泄露文件"),
        help_text=_("CSV 或 XLSX；文件只用于本次比对，比对结束即删除，只保留文件名、大小和 SHA-256。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    note = forms.CharField(
        label=_("案件说明"),
        max_length=500,
        required=False,
        help_text=_("在哪里发现、案件编号等，随比对结果保存。"),
    )
