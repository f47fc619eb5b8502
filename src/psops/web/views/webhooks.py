"""The administrator's webhook pages: subscriptions made (the secret shown once), turned off and on, and each one's
delivery log, where a delivery is sent again (psops.api.webhooks)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from psops.api.models import WebhookDelivery, WebhookSubscription
from psops.api.webhooks import (
    EVENTS,
    deliveries_of,
    delivery_resend,
    delivery_resend_check,
    subscription_create,
    subscription_set_active,
    subscriptions_listed,
    webhook_manage_check,
)
from psops.core.errors import ApplicationError

from .common import allows, attempt, paginate


class SubscriptionForm(forms.Form):
    url = forms.URLField(label="Receiver URL", max_length=500, assume_scheme="https",
                         help_text="psops POSTs each event here as JSON, signed (see the API docs).")
    description = forms.CharField(label="What receives it", max_length=200, required=False)
    events = forms.MultipleChoiceField(label="Events", widget=forms.CheckboxSelectMultiple,
                                       choices=[(name, f"{name}: {meaning}") for name, (meaning, _) in EVENTS.items()])


def _admin(request) -> None:
    try:
        webhook_manage_check(user=request.user)
    except ApplicationError as refused:
        raise PermissionDenied(refused.message) from refused


def _list(request, *, form=None, made=None, status=200):
    page = paginate(request, subscriptions_listed())
    return render(request, "web/webhooks.html", {"form": form or SubscriptionForm(), "page": page,
                                                 "subscriptions": list(page.object_list), "made": made},
                  status=status)


@never_cache
@login_required
def webhooks(request):
    _admin(request)
    return _list(request)


@require_POST
@never_cache
@login_required
def webhook_new(request):
    _admin(request)
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        return _list(request, form=form, status=400)
    made = attempt(request, lambda: subscription_create(user=request.user, **form.cleaned_data),
                   success="Subscribed. Copy the secret now: the receiver checks each signature with it.", form=form)
    if made is None:
        return _list(request, form=form, status=400)
    return _list(request, made=made, status=201)


@login_required
def webhook(request, pk: int):
    _admin(request)
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    page = paginate(request, deliveries_of(subscription))
    rows = list(page.object_list)
    for row in rows:
        row.subscription = subscription
        row.can_resend = allows(delivery_resend_check, user=request.user, delivery=row)
    return render(request, "web/webhook.html", {"subscription": subscription, "page": page, "deliveries": rows})


@require_POST
@login_required
def webhook_active(request, pk: int):
    _admin(request)
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    active = request.POST.get("active") == "on"
    attempt(request, lambda: subscription_set_active(user=request.user, subscription=subscription, active=active),
            success="Turned on: new events are sent." if active else "Turned off: nothing more is sent.")
    return redirect("web:webhook", pk)


@require_POST
@login_required
def webhook_resend(request, pk: int):
    _admin(request)
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("subscription"), pk=pk)
    attempt(request, lambda: delivery_resend(user=request.user, delivery=delivery),
            success="Queued again: the worker sends it at its next poll.")
    return redirect("web:webhook", delivery.subscription_id)
