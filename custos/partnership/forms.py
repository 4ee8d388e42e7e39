from django import forms
from django.utils.translation import gettext_lazy as _

from custos.partnership.models import Letter, Recommendation
from custos.web.formkit import DatePickers


class CampaignForm(DatePickers, forms.Form):
    name = forms.CharField(label=_("活动名称"), max_length=200)
    started_on = forms.DateField(label=_("开始日期"), required=False, help_text=_("不填为今天。"))
    deadline = forms.DateField(
        label=_("整改期限"), required=False, help_text=_("不填为开始日期加系统设定的天数。")
    )
    note = forms.CharField(label=_("说明"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("started_on") and data.get("deadline") and data["deadline"] < data["started_on"]:
            self.add_error("deadline", _("整改期限不能早于活动开始日期。"))
        return data


class StepForm(DatePickers, forms.Form):
    step = forms.ChoiceField(
        label=_("步骤"),
        choices=[
            ("send", _("寄出")),
            ("deliver", _("送达")),
            ("return", _("退回")),
            ("acknowledge", _("收到回执")),
            ("refuse", _("拒绝配合")),
        ],
    )
    on = forms.DateField(label=_("日期"), required=False, help_text=_("不填为今天。"))
    via = forms.ChoiceField(label=_("发送方式"), choices=[("", "—"), *Letter.Via.choices], required=False)
    tracking_no = forms.CharField(label=_("运单号"), max_length=100, required=False)
    signed_by = forms.CharField(label=_("签收人"), max_length=100, required=False)
    note = forms.CharField(
        label=_("备注"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OpinionForm(forms.Form):
    opinion = forms.CharField(label=_("合规意见"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class DecisionForm(DatePickers, forms.Form):
    decision = forms.ChoiceField(label=_("决定"), choices=Recommendation.Decision.choices)
    reason = forms.CharField(label=_("理由"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    new_deadline = forms.DateField(
        label=_("新的整改期限"), required=False, help_text=_("仅“延长期限”时填写。")
    )
