import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from psops.accounts import roles
from psops.activity.models import Message
from psops.core.formfields import MoneyFormField
from psops.core.money import CURRENCY_CHOICES
from psops.crm.choices import Segment
from psops.crm.models import Account
from psops.crm.scope import account_scope


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           help_text="Type @username to notify someone.")
    kind = forms.ChoiceField(label="Kind", choices=Message.Kind.choices, required=False)
    # A message id: bounded, so a forged huge number is a form error rather than a database overflow.
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)


def people_in(role: str):
    """The active people who hold `role`, by username: what a form offers to pick one of them."""
    return get_user_model().objects.filter(groups__name=role, is_active=True).order_by("username")


class PersonField(forms.ModelChoiceField):
    """One person among the active holders of a role (read when the form is made, so a new hire is offered at once)."""

    def __init__(self, role: str, **kwargs):
        from psops.core.formfields import QuickSelect

        super().__init__(queryset=people_in(role), widget=QuickSelect, **kwargs)


class NewDealForm(forms.Form):
    account = forms.ModelChoiceField(label="Existing account", queryset=Account.objects.none(),
                                     required=False, empty_label="A new account (name below)")
    account_name = forms.CharField(label="New account name", required=False, max_length=200)
    contact_name = forms.CharField(label="Contact name", required=False, max_length=200)
    contact_email = forms.EmailField(label="Contact e-mail", required=False)
    contact_title = forms.CharField(label="Contact title", required=False, max_length=120)
    name = forms.CharField(label="Deal name", max_length=200)
    segment = forms.ChoiceField(label="Segment", choices=Segment.choices)
    amount = MoneyFormField(label="Amount", initial=0)
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES, initial="USD")
    close_date = forms.DateField(label="Expected close", widget=forms.DateInput(attrs={"type": "date"}))
    solutions_architect = PersonField(roles.SOLUTIONS_ARCHITECT, label="Solutions architect", required=False,
                                      empty_label="None yet",
                                      help_text="Scopes the work and builds the ROM; the deal reaches their queue.")
    tam = PersonField(roles.TAM, label="TAM", required=False, empty_label="None yet",
                      help_text="Scopes where there is no SA, and may send the sign-off.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the accounts this person sees are offered (decision 0008).
        self.fields["account"].queryset = (  # type: ignore[attr-defined]
            Account.objects.filter(account_scope(user)).order_by("name"))
        self.fields["close_date"].initial = timezone.localdate() + dt.timedelta(days=90)


class WeekForm(forms.Form):
    """One engineer's week: the row of the list to open or approve."""
    engineer = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True),
                                      widget=forms.HiddenInput)
    week = forms.DateField(widget=forms.HiddenInput)

    def clean_week(self):
        week = self.cleaned_data["week"]
        if week.weekday() != 0:
            raise forms.ValidationError("A week starts on a Monday.")
        return week
