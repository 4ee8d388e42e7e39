"""What every form of the shell shares: date pickers and date ranges that cannot run backwards.

    class ExtractionForm(DatePickers, forms.Form):
        start = forms.DateField(...)
        end = forms.DateField(...)

        def clean(self):
            data = super().clean()
            date_range(self, "start", "end")
            return data

Render with ``{% include "web/_form.html" with form=form %}`` (errors beside their fields)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DateInput(forms.DateInput):
    """The browser's date picker (<input type="date">): the value travels as ISO 8601."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DatePickers:
    """A form mixin: every DateField gets the date picker (its own widget unless it is a plain one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            if isinstance(f, forms.DateField) and type(f.widget) is forms.DateInput:
                f.widget = DateInput(attrs=f.widget.attrs)


def date_range(form: forms.BaseForm, start: str, end: str) -> None:
    """Add an error to the end date when it comes before the start date (both given)."""
    data = form.cleaned_data
    if data.get(start) and data.get(end) and data[end] < data[start]:
        form.add_error(end, _("结束日期不能早于开始日期。"))
