"""Webhooks: an administrator subscribes a URL to events of the process; psops sends each event there as a signed
JSON body, retries with exponential back-off, and keeps each delivery's last answer for the page.

How events are found: the worker's sweep reads the timeline (every change already writes one event there, in the
change's own transaction) past a cursor, turns the events of the catalogue below into deliveries, then sends the
deliveries that are due. Nothing is added to the services' transactions, so a change costs the same with or without
subscribers. An event is read once it is LAG old, so a transaction still running when the sweep reads (whose event
ids were taken earlier) has committed by then; a change whose transaction stays open longer than LAG is not sent.

The request: `POST <url>` with `Content-Type: application/json`, `Psops-Event: <name>`, `Psops-Delivery: <id>` and
`Psops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the subscription's secret>`. A receiver
recomputes the HMAC, compares in constant time and refuses a `t` too far from its clock (replays).
A 2xx answer is delivered; anything else (or no answer in TIMEOUT) is tried again after 1, 2, 4 … minutes, at most
MAX_ATTEMPTS times, then marked failed. "Send again" on the page queues a delivery once more.

Where psops may send (an administrator's URL must not become a way into the firm's own network): the receiver's
host must resolve to public addresses only, checked when the URL is saved (an address written in the URL) and again
before every attempt (what the name resolves to then); redirects are not followed, so a public receiver cannot pass
the request on inside. settings.PSOPS_WEBHOOKS_PRIVATE lifts the address rule, for a development machine or a
receiver deliberately on the firm's network.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from psops.accounts import roles
from psops.activity.models import TimelineEvent
from psops.activity.services import event_record
from psops.core.errors import ApplicationError

from .models import WebhookCursor, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

# event name -> (what it means, the timeline verbs it is made of, as patterns)
EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "approval.requested": ("A ROM or quote was sent for approval.", ("approval.requested",)),
    "approval.decided": ("An approver approved, rejected or asked for discovery.",
                         ("approval.approve", "approval.reject", "approval.needs-discovery")),
    "quote.sent": ("A quote was sent (or sent again) to the customer.", ("quote.sent", "quote.resent")),
    "quote.accepted": ("The customer accepted a quote.", ("quote.accepted",)),
    "sow.signed": ("The customer signed a statement of work.", ("sow.signed",)),
    "deal.closed_won": ("A PS opportunity was marked Closed Won (its project is created).", ()),
    "project.state": ("A project moved to another state.", ("project.*",)),
    "acceptance": ("The customer accepted a milestone or the sign-off, or silence counted as acceptance.",
                   ("milestone.accepted", "sign_off.signed", "sign_off.passive", "sign_off.replied")),
    "invoice.issued": ("An invoice was issued.", ("invoice.issued",)),
    "payment.recorded": ("A payment was recorded against an invoice.", ("invoice.payment",)),
    "collection.step": ("A collection case opened or closed, or a reminder, promise or note was recorded.",
                        ("collection.*",)),
}


LAG = dt.timedelta(seconds=30)
READ_BATCH = 1000
SEND_BATCH = 50
TIMEOUT = 10  # seconds
MAX_ATTEMPTS = 8  # about four hours of retries: 1 + 2 + 4 + ... + 128 minutes
SEND_LEASE = dt.timedelta(minutes=2)
SIGNATURE_HEADER = "Psops-Signature"
WHO = "Only an administrator manages webhooks."


def _project_states() -> set[str]:
    from psops.delivery.models import Project

    return {f"project.{state}" for state in Project.State.values}


def event_of(verb: str, data: dict) -> str | None:
    """The catalogue's name for a timeline event, or None when no subscriber can ask for it."""
    if verb == "ps_opportunity.stage":
        return "deal.closed_won" if data.get("to") == "closed-won" else None
    if verb.startswith("project."):
        return "project.state" if verb in _project_states() else None
    for name, (_, patterns) in EVENTS.items():
        if any(fnmatch.fnmatchcase(verb, pattern) for pattern in patterns):
            return name
    return None


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


# --- Subscriptions ------------------------------------------------------------------------------------------------


def webhook_manage_check(*, user: Any) -> None:
    if not (getattr(user, "is_superuser", False) or roles.has_role(user, roles.ADMINISTRATOR)):
        raise ApplicationError(code="forbidden", message=WHO)


PRIVATE_REFUSED = ("psops sends webhooks to public addresses only; {host} is {what}. (An administrator of the server "
                   "can allow receivers on the firm's own network with PSOPS_WEBHOOKS_PRIVATE=1.)")


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def destination_refusal(host: str, *, resolve: bool) -> str | None:
    """Why psops may not send to `host` (None: it may). With `resolve`, every address the name has now is checked;
    without, only an address written as the host (and localhost), as the URL is saved."""
    if settings.PSOPS_WEBHOOKS_PRIVATE:
        return None
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return PRIVATE_REFUSED.format(host=host, what="this machine")
    try:
        addresses = [str(ipaddress.ip_address(name))]
    except ValueError:
        if not resolve:
            return None
        try:
            addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)})
        except (OSError, UnicodeError) as failed:
            return f"{host} could not be resolved ({failed})."
    inside = [a for a in addresses if _not_public(a)]
    if inside:
        return PRIVATE_REFUSED.format(host=host, what=f"a non-public address ({', '.join(inside[:3])})")
    return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the receiver's answer, recorded as a failure: psops does not follow it elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, PLR0913 (the library's signature)
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ApplicationError(code="invalid-url", field="url",
                               message="The URL must be an http:// or https:// address of at most 500 characters.")
    if parts.username or parts.password:
        raise ApplicationError(code="invalid-url", field="url",
                               message="Put no user name or password in the URL: the signature authenticates psops.")
    if parts.scheme == "http" and not settings.DEBUG and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ApplicationError(code="invalid-url", field="url",
                               message="Use https:// (plain http:// only reaches this machine).")
    refused = destination_refusal(parts.hostname, resolve=False)
    if refused:
        raise ApplicationError(code="invalid-url", field="url", message=refused)
    return url


def _clean_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise ApplicationError(code="invalid-events", field="events",
                               message="Choose one or more events of the list.")
    return sorted(set(events))


def subscriptions_listed() -> Any:
    """The subscriptions, newest first, with who made them (the page and the API list these)."""
    return WebhookSubscription.objects.select_related("created_by").order_by("-created_at", "-pk")


def deliveries_of(subscription: WebhookSubscription) -> Any:
    """A subscription's delivery log, newest first, without the bodies sent."""
    return subscription.deliveries.defer("body").order_by("-created_at", "-pk")


def subscription_create(*, user: Any, url: str, events: list[str], description: str = "") -> WebhookSubscription:
    """A new subscription; its `secret` is read from the returned row once, to show it."""
    webhook_manage_check(user=user)
    url, events = _clean_url(url), _clean_events(events)
    with transaction.atomic():
        row = WebhookSubscription.objects.create(url=url, events=events, description=description.strip()[:200],
                                                 secret=secrets.token_hex(32), created_by=user)
        event_record(actor=user, subject=row, verb="webhook.created",
                     message=f"{user} subscribed {url} to {', '.join(events)}")
    return row


def subscription_set_active(*, user: Any, subscription: WebhookSubscription, active: bool) -> WebhookSubscription:
    webhook_manage_check(user=user)
    if subscription.active == active:
        raise ApplicationError(code="unchanged", message="The subscription is already so.")
    with transaction.atomic():
        subscription.active = active
        subscription.save(update_fields=["active"])
        if not active:  # what waits is not sent to a receiver that was turned off
            subscription.deliveries.filter(state=WebhookDelivery.State.PENDING).update(
                state=WebhookDelivery.State.FAILED, last_error="The subscription was turned off.")
        event_record(actor=user, subject=subscription, verb="webhook.turned_on" if active else "webhook.turned_off",
                     message=f"{user} turned {'on' if active else 'off'} the webhook to {subscription.url}")
    return subscription


def delivery_resend_check(*, user: Any, delivery: WebhookDelivery) -> None:
    webhook_manage_check(user=user)
    if delivery.state in (WebhookDelivery.State.PENDING, WebhookDelivery.State.SENDING):
        raise ApplicationError(code="not-now", message="This delivery is already waiting to be sent.")
    if not delivery.subscription.active:
        raise ApplicationError(code="not-now", message="Turn the subscription on first.")


def delivery_resend(*, user: Any, delivery: WebhookDelivery) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
        delivery_resend_check(user=user, delivery=delivery)
        delivery.state, delivery.attempts, delivery.next_attempt_at = WebhookDelivery.State.PENDING, 0, timezone.now()
        delivery.save(update_fields=["state", "attempts", "next_attempt_at"])
        event_record(actor=user, subject=delivery.subscription, verb="webhook.resent",
                     message=f"{user} queued delivery {delivery.pk} ({delivery.event}) again")
    return delivery


# --- The worker's sweep -------------------------------------------------------------------------------------------


def _body(event: TimelineEvent, name: str) -> str:
    from .v1 import PATHS

    kind = event.subject_type.model
    path = PATHS.get(kind)
    return json.dumps({
        "id": f"evt_{event.pk}", "event": name, "occurred_at": event.created_at.isoformat(), "verb": event.verb,
        "subject": {"kind": kind, "id": event.subject_id,
                    "href": f"/api/v1/{path}/{event.subject_id}" if path else None},
        "actor": event.actor_label or (str(event.actor) if event.actor_id else "system"),
        "message": event.message, "data": event.data,
    }, separators=(",", ":"), default=str)


def read_timeline(*, now: dt.datetime | None = None, batch: int = READ_BATCH) -> int:
    """Turn the timeline events past the cursor (at least LAG old) into deliveries; returns how many were made."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor, _ = WebhookCursor.objects.select_for_update().get_or_create(pk=1)
        events = list(TimelineEvent.objects.filter(pk__gt=cursor.last_event_id, created_at__lte=now - LAG)
                      .select_related("subject_type", "actor").order_by("pk")[:batch])
        if not events:
            return 0
        subscriptions = list(WebhookSubscription.objects.filter(active=True))
        made = []
        for event in events:
            name = event_of(event.verb, event.data or {}) if subscriptions else None
            if name is None:
                continue
            body = None
            for subscription in subscriptions:  # an event from before the subscription is not its business
                if name in subscription.events and event.created_at >= subscription.created_at:
                    body = body or _body(event, name)
                    made.append(WebhookDelivery(subscription=subscription, event=name, timeline_event_id=event.pk,
                                                body=body, next_attempt_at=now))
        WebhookDelivery.objects.bulk_create(made, ignore_conflicts=True)
        cursor.last_event_id = events[-1].pk
        cursor.save(update_fields=["last_event_id"])
    return len(made)


def _claim(now: dt.datetime, taken: list[int]) -> WebhookDelivery | None:
    due = (Q(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
           | Q(state=WebhookDelivery.State.SENDING, claimed_at__lt=now - SEND_LEASE))
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.filter(due).exclude(pk__in=taken).order_by("next_attempt_at", "pk")
                    .select_for_update(skip_locked=True).first())
        if delivery is None:
            return None
        delivery.state, delivery.claimed_at = WebhookDelivery.State.SENDING, now
        delivery.attempts += 1
        delivery.save(update_fields=["state", "claimed_at", "attempts"])
    return WebhookDelivery.objects.select_related("subscription").get(pk=delivery.pk)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """(status, the start of the answer, the error) of one attempt."""
    body = delivery.body.encode()
    blocked = destination_refusal(urlsplit(delivery.subscription.url).hostname or "", resolve=True)
    if blocked:
        return None, "", blocked[:500]
    request = urllib.request.Request(delivery.subscription.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "psops-webhooks/1",
        "Psops-Event": delivery.event, "Psops-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(delivery.subscription.secret, body, int(time.time())),
    })
    try:
        with _opener.open(request, timeout=TIMEOUT) as answer:  # noqa: S310 (http(s) only, checked)
            return answer.status, answer.read(2000).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read(2000).decode("utf-8", "replace"), f"HTTP {refused.code}"
    except (urllib.error.URLError, OSError, ValueError) as failed:
        return None, "", f"{type(failed).__name__}: {getattr(failed, 'reason', failed)}"[:500]


def retry_after(attempts: int) -> dt.timedelta:
    """The wait before attempt `attempts + 1`: 1, 2, 4, ... minutes."""
    return dt.timedelta(minutes=2 ** max(attempts - 1, 0))


def send_due(*, now: dt.datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Send up to `batch` due deliveries, each claimed in a short transaction and sent outside any."""
    taken: list[int] = []
    while len(taken) < batch:
        delivery = _claim(now or timezone.now(), taken)
        if delivery is None:
            break
        taken.append(delivery.pk)
        status, answer, error = _post(delivery)
        finished = timezone.now()
        fields: dict[str, Any] = {"last_status": status, "last_response": answer, "last_error": error,
                                  "last_attempt_at": finished}
        if status is not None and 200 <= status < 300:
            fields.update(state=WebhookDelivery.State.DELIVERED, delivered_at=finished, last_error="")
        elif delivery.attempts >= MAX_ATTEMPTS:
            fields.update(state=WebhookDelivery.State.FAILED)
        else:
            fields.update(state=WebhookDelivery.State.PENDING,
                          next_attempt_at=finished + retry_after(delivery.attempts))
        WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.SENDING).update(**fields)
        if status is None or not 200 <= status < 300:
            logger.warning("Webhook delivery %s to %s failed (attempt %s): %s", delivery.pk,
                           delivery.subscription.url, delivery.attempts, error or status)
    return len(taken)


def webhooks_sweep() -> int:
    """The worker's poll: read the timeline, then send what is due."""
    return read_timeline() + send_due()
