"""Form fields for bounded numbers: the same bound as the service and the column (`psops.core.quantities`).

A page refuses an out-of-range, non-finite or too precise number beside its field, with a message that names the
field and the bound, before any service is called; the service checks again for the doors without a form.

And `QuickSelect`, a drop-down that writes its options itself rather than through a template each.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .quantities import HOURS, MONEY, Bound


class QuantityFormField(forms.DecimalField):
    """A decimal number within `bound` (or a narrower `minimum`/`maximum`), with at most `places` places."""

    def __init__(self, *, bound: Bound = HOURS, minimum: Decimal | int | None = None,
                 maximum: Decimal | int | None = None, places: int | None = None, **kwargs: Any) -> None:
        low = bound.minimum if minimum is None else Decimal(minimum)
        high = bound.maximum if maximum is None else Decimal(maximum)
        given = kwargs.pop("decimal_places", None)  # what a model field offers (ModelForm, admin)
        keep = places if places is not None else given if given is not None else bound.places
        kwargs.pop("max_digits", None)  # the bound says how big; a digit count would only say it less clearly
        kwargs.pop("min_value", None)
        kwargs.pop("max_value", None)
        super().__init__(min_value=low, max_value=high, max_digits=None, decimal_places=keep, **kwargs)
        self.bound = bound
        name = str(self.label) if self.label else "This value"
        said_places = "no decimal places" if keep == 0 else f"at most {keep} decimal places"
        # The validators' messages are %-formatted with their params: a "%" of ours ("Discount (%)") is doubled.
        with_params = {
            "min_value": f"{name} must be at least {bound.show(low)}.",
            "max_value": f"{name} must be at most {bound.show(high)}.",
            "max_decimal_places": f"{name} takes {said_places}.",
            "max_digits": f"{name} must be at most {bound.show(high)}.",
            "max_whole_digits": f"{name} must be at most {bound.show(high)}.",
        }
        self.error_messages.update({code: message.replace("%", "%%") for code, message in with_params.items()})
        # "invalid" is raised both with and without params, so it carries no "%" at all.
        invalid = f"{name}: enter {bound.what} from {bound.show(low)} to {bound.show(high)}."
        self.error_messages["invalid"] = invalid.replace("(%)", "(percent)").replace("%", " percent")


class MoneyFormField(QuantityFormField):
    """An amount of money: 0 to the ceiling of one amount (`MONEY`), two places (a service then holds the
    currency's own places)."""

    def __init__(self, *, minimum: Decimal | int | None = None, maximum: Decimal | int | None = None,
                 **kwargs: Any) -> None:
        kwargs.pop("bound", None)
        super().__init__(bound=MONEY, minimum=minimum, maximum=maximum, **kwargs)


class WholeNumberFormField(forms.IntegerField):
    """A whole number within `bound` (or a narrower `minimum`/`maximum`): a count, net days, a percent complete."""

    def __init__(self, *, bound: Bound, minimum: int | None = None, maximum: int | None = None,
                 **kwargs: Any) -> None:
        low = int(bound.minimum) if minimum is None else minimum
        high = int(bound.maximum) if maximum is None else maximum
        for given in ("min_value", "max_value", "max_digits", "decimal_places"):
            kwargs.pop(given, None)
        super().__init__(min_value=low, max_value=high, **kwargs)
        self.bound = bound
        name = str(self.label) if self.label else "This value"
        with_params = {"min_value": f"{name} must be at least {bound.show(low)}.",
                       "max_value": f"{name} must be at most {bound.show(high)}."}
        self.error_messages.update({code: message.replace("%", "%%") for code, message in with_params.items()})
        invalid = f"{name}: enter a whole number from {bound.show(low)} to {bound.show(high)}."
        self.error_messages["invalid"] = invalid.replace("(%)", "(percent)").replace("%", " percent")


class QuickSelect(forms.Select):
    """A select whose options are written in Python: the same markup as Django's `Select` (attributes, the selected
    option, optgroups flattened), without its per-option machinery (a template, or a dict of attributes, per option),
    which cost a record page tens of milliseconds for each list of a few hundred engineers or contacts."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        options = []
        for option_value, option_label in self.choices:
            group = option_label if isinstance(option_label, (list, tuple)) else [(option_value, option_label)]
            for inner_value, inner_label in group:
                text = "" if inner_value is None else str(inner_value)
                selected = " selected" if text in chosen else ""
                options.append(f'<option value="{escape(text)}"{selected}>{escape(inner_label)}</option>')
        attributes = flatatt({"name": name, **self.build_attrs(self.attrs, attrs)})
        return mark_safe(f"<select{attributes}>{''.join(options)}</select>")  # every part escaped above
