"""A new deal from the browser: the customer's account (new or existing), a first contact, the opportunity."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from psops.core.errors import ApplicationError
from psops.crm import services as crm

from ..forms import NewDealForm
from .common import attempt


@login_required
def deal_new(request):
    try:
        crm.deal_open_check(user=request.user)
    except ApplicationError as refusal:
        raise PermissionDenied(refusal.message) from refusal
    form = NewDealForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        opportunity = attempt(request, lambda: crm.deal_open(user=request.user, **form.cleaned_data),
                              success="Deal created.", form=form)
        if opportunity is not None:
            return redirect("web:opportunity", opportunity.pk)
    return render(request, "web/deal_new.html", {"form": form}, status=400 if form.errors else 200)
