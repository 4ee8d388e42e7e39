from django import forms
from django.utils.translation import gettext_lazy as _

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
