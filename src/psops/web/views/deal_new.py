"""A new deal from the browser: the customer's account (new or existing), a first contact, the opportunity."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone

from psops.accounts import roles
from psops.core.formfields import MoneyFormField
from psops.core.money import CURRENCY_CHOICES
from psops.crm import services as crm
from psops.crm.choices import Segment
from psops.crm.models import Account
from psops.crm.scope import account_scope

from ..forms import PersonField
from .common import attempt


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


@login_required
def deal_new(request):
    if not request.user.has_perm("crm.create_opportunity"):
        raise PermissionDenied("Only sales reps create deals.")
    form = NewDealForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        opportunity = attempt(request, lambda: crm.deal_open(user=request.user, **form.cleaned_data),
                              success="Deal created.", form=form)
        if opportunity is not None:
            return redirect("web:opportunity", opportunity.pk)
    return render(request, "web/deal_new.html", {"form": form}, status=400 if form.errors else 200)
