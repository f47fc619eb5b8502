"""The calculator page's forms: which deal and template (GET), and the template's questions (POST).

The answers are plain text on purpose: the calculator itself judges them (whole numbers, ranges, required ones),
so the page shows exactly the calculator's refusal beside the question, the same words as the CLI and the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from psops.core.formfields import QuickSelect
from psops.crm.models import Opportunity
from psops.crm.selectors import estimable_opportunity_list, matching
from psops.estimating.calculator import PRICE_BOOK, TEMPLATES, Question

ANSWER_PREFIX = "a"


DEALS_SHOWN = 50  # a firm has tens of thousands of open deals: the picker offers this many, found by name


class PickForm(forms.Form):
    find = forms.CharField(label="Find a deal", required=False, max_length=100,
                           help_text="Part of the deal's or the account's name.")
    opportunity = forms.ModelChoiceField(label="Deal", queryset=Opportunity.objects.none(), required=False,
                                         empty_label="Choose a deal (needed to save)", widget=QuickSelect)
    template = forms.ChoiceField(label="Template", required=False,
                                 choices=[("", "Choose a template"),
                                          *((code, spec.title) for code, spec in TEMPLATES.items())])

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        deals = estimable_opportunity_list(user=user)
        field = self.fields["opportunity"]
        field.queryset = deals  # type: ignore[attr-defined]  # what is accepted: any deal this user may estimate
        # What is offered: the deals found by name, else those closing soonest, and always the one chosen.
        find = str(self.data.get("find") or "").strip()[:100] if self.is_bound else ""
        offered = deals.filter(matching(find)) if find else deals.order_by("close_date", "pk")
        shown = list(offered[:DEALS_SHOWN])
        chosen = str(self.data.get("opportunity") or "") if self.is_bound else ""
        if chosen.isdigit() and int(chosen) not in {deal.pk for deal in shown}:
            shown = [*deals.filter(pk=int(chosen))[:1], *shown]
        field.widget.choices = [("", field.empty_label),  # type: ignore[attr-defined]
                                *((deal.pk, field.label_from_instance(deal)) for deal in shown)]  # type: ignore[attr-defined]
        many = len(shown) >= DEALS_SHOWN
        field.help_text = (f"Deals matching \u201c{find}\u201d{f' (the first {DEALS_SHOWN})' if many else ''}."
                           if find else f"The {'first ' if many else ''}{len(shown)} open deals closing soonest; "
                                        "find another by name above.")


class AnswersForm(forms.Form):
    """One text box per question of the template, then free-text assumptions."""

    def __init__(self, *args: Any, template: str, questions: Iterable[Question], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", ANSWER_PREFIX)
        super().__init__(*args, **kwargs)
        self.question_names: list[str] = []
        for question in questions:
            label = question.label
            if template == PRICE_BOOK and question.name != "attendees":
                label = f"{question.label} ({question.name})"
            placeholder = "" if question.default is None else str(question.default)
            self.fields[question.name] = forms.CharField(
                label=label, required=False, help_text=question.help, strip=True,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                              "placeholder": placeholder}))
            self.question_names.append(question.name)
        self.fields["assumptions"] = forms.CharField(
            label="Assumptions (optional)", required=False, max_length=2000,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="Added to the calculator's own assumptions on the ROM.")
        for name in self.question_names:  # the help text and the calculator's refusal describe the box
            auto_id = self[name].auto_id
            self.fields[name].widget.attrs["aria-describedby"] = f"{auto_id}-help {auto_id}-error"

    def question_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.question_names]

    def answers(self) -> dict[str, str]:
        """The questions answered, as typed (blank ones left out, so their defaults apply)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data[name] for name in self.question_names if data.get(name)}

    @property
    def assumptions(self) -> str:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("assumptions", "")


def initial_answers(questions: Iterable[Question], *, saved: Mapping[str, Any] | None = None,
                    typed: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the boxes start with: what was typed before (kept when the deal or template changes), else the saved
    version's answers, else each question's default."""
    result = {}
    for question in questions:
        key = f"{ANSWER_PREFIX}-{question.name}"
        if typed is not None and key in typed:
            result[question.name] = typed[key]
        elif saved is not None:
            if question.name in saved:
                result[question.name] = str(saved[question.name])
        elif question.default is not None:
            result[question.name] = str(question.default)
    return result
