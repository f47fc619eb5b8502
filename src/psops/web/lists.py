"""What the list pages share: their filter forms (GET) and sorting by a whitelist of columns."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import HttpRequest

from psops.approvals.models import ApprovalRequest
from psops.billing.models import Invoice
from psops.crm.choices import Segment, Stage
from psops.delivery.models import Project


def _any(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class DealFilterForm(forms.Form):
    q = forms.CharField(label="Account or deal", required=False, max_length=100)
    stage = forms.ChoiceField(label="Stage", required=False, choices=_any("Any stage", Stage.choices))
    segment = forms.ChoiceField(label="Segment", required=False, choices=_any("Any segment", Segment.choices))
    mine = forms.BooleanField(label="My open deals (and my reports')", required=False)


class ApprovalFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False,
                              choices=_any("Any state", ApprovalRequest.State.choices))
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "ROMs and quotes"), ("rom", "ROM"),
                                                                   ("quote", "Quote")])
    waiting = forms.BooleanField(label="Waiting for my decision", required=False)


class ProjectFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=_any("Any state", Project.State.choices))
    advance = forms.BooleanField(label="To staff or advance (PS manager)", required=False)
    mine = forms.BooleanField(label="My open projects", required=False)


class InvoiceFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=_any("Any state", Invoice.State.choices))
    overdue = forms.BooleanField(label="Overdue", required=False)


class CollectionFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Open"), ("closed", "Closed (paid)"),
                                                                     ("all", "Open and closed")])
    disputed = forms.BooleanField(label="Disputed", required=False)
    due = forms.BooleanField(label="Due for a reminder", required=False)


def filters_of(form: forms.Form) -> dict:
    """The filters the user set, leaving out any that did not validate (the form shows why beside them)."""
    form.is_valid()
    return {name: value for name, value in getattr(form, "cleaned_data", {}).items() if value}


@dataclass(frozen=True)
class Sort:
    key: str  # as it stands in the address: "close" or "-close"
    order_by: tuple[str, ...]

    @property
    def column(self) -> str:
        return self.key.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.key.startswith("-")


def sort_of(request: HttpRequest, columns: dict[str, str], default: str) -> Sort:
    """The ?sort= of the request when it names a column of the whitelist (a leading "-" sorts descending), else the
    default. Ties are broken by id, so pages never overlap."""
    key = (request.GET.get("sort") or "").strip()
    if key.removeprefix("-") not in columns:
        key = default
    field = columns[key.removeprefix("-")]
    sign = "-" if key.startswith("-") else ""
    return Sort(key, (f"{sign}{field}", f"{sign}pk"))
