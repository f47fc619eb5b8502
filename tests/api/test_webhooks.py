"""Webhooks delivered to a real HTTP receiver on this machine: signed bodies, a failure then a retry after the
back-off, the log on the page, "Send again", and the refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.api.models import WebhookDelivery, WebhookSubscription
from psops.api.webhooks import LAG, MAX_ATTEMPTS, read_timeline, send_due, subscription_create
from tests.factories import assert_refused, reach

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP server in a thread that keeps what it receives and answers with the statuses it is given, in turn."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.received = list(statuses), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def _make(statuses):
        made.append(Receiver(statuses))
        return made[-1]

    yield _make
    for r in made:
        r.close()


def later(minutes: float = 0) -> dt.datetime:
    return timezone.now() + LAG + dt.timedelta(seconds=1, minutes=minutes)


def verify(secret: str, headers: dict, body: bytes) -> None:
    """What a receiver does: recompute the HMAC of "<t>.<body>" and compare in constant time."""
    parts = dict(p.split("=", 1) for p in headers["Psops-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    assert abs(int(parts["t"]) - timezone.now().timestamp()) < 60


def test_a_failed_delivery_is_retried_after_the_back_off_and_logged(people, receiver, client):
    r = receiver([500])
    subscription = subscription_create(user=people["admin"], url=r.url, events=["quote.sent"], description="ERP")
    e = reach(people, "quote-sent")
    assert read_timeline(now=later()) == 1  # one quote.sent; the other events are not subscribed
    delivery = WebhookDelivery.objects.get()
    assert send_due(now=later()) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.last_response == "try later"
    assert delivery.next_attempt_at > timezone.now() + dt.timedelta(seconds=50)
    assert send_due(now=later()) == 0  # not due before its back-off
    assert send_due(now=later(minutes=2)) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    assert len(r.received) == 2 and r.received[0][1] == r.received[1][1]  # the same bytes, retried
    headers, body = r.received[1]
    verify(subscription.secret, headers, body)
    payload = json.loads(body)
    assert headers["Psops-Event"] == payload["event"] == "quote.sent"
    assert payload["subject"] == {"kind": "quote", "id": e.quote.pk, "href": f"/api/v1/quotes/{e.quote.pk}"}
    assert payload["id"] == f"evt_{delivery.timeline_event_id}"
    # The log, and "Send again".
    client.force_login(people["admin"])
    page = client.get(f"/webhooks/{subscription.pk}/").content.decode()
    assert "Delivered" in page and "HTTP 200" in page and "Send again" in page
    assert client.post(f"/webhooks/deliveries/{delivery.pk}/resend/").status_code == 302
    assert send_due(now=later()) == 1 and len(r.received) == 3
    assert TimelineEvent.objects.filter(verb="webhook.resent").exists()


def test_each_event_reaches_each_subscriber_once_and_nothing_from_before(people, receiver):
    early = reach(people, "rom-submitted")
    r = receiver([])
    subscription_create(user=people["admin"], url=r.url, events=["approval.requested", "approval.decided"])
    read_timeline(now=later())
    assert not WebhookDelivery.objects.exists()  # the request came before the subscription
    from psops.approvals import services as approvals

    approvals.rom_decide(user=people["psmanager"], request=early.rom_request, outcome="approve")
    assert read_timeline(now=later()) == 1 and read_timeline(now=later()) == 0
    send_due(now=later())
    assert [json.loads(b)["event"] for _, b in r.received] == ["approval.decided"]


def test_an_unreachable_receiver_fails_after_the_last_attempt(people):
    subscription_create(user=people["admin"], url="http://127.0.0.1:9/nobody", events=["quote.sent"])
    reach(people, "quote-sent")
    read_timeline(now=later())
    for attempt in range(MAX_ATTEMPTS):
        assert send_due(now=later(minutes=2 ** attempt + 1)) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.attempts == MAX_ATTEMPTS and delivery.last_status is None
    assert "Error" in delivery.last_error or "refused" in delivery.last_error.lower()


def test_only_an_administrator_subscribes_and_bad_subscriptions_change_nothing(people, client):
    assert_refused(lambda: subscription_create(user=people["finance"], url="https://erp.example/h",
                                               events=["invoice.issued"]), "forbidden")
    for url, events in (("ftp://erp.example/h", ["invoice.issued"]), ("https://u:p@erp.example/h", ["quote.sent"]),
                        ("https://erp.example/h", []), ("https://erp.example/h", ["invoice.exploded"])):
        assert_refused(lambda u=url, ev=events: subscription_create(user=people["admin"], url=u, events=ev))
    client.force_login(people["finance"])
    assert client.get("/webhooks/").status_code == 403
    client.force_login(people["admin"])
    response = client.post("/webhooks/new/", {"url": "not a url", "events": ["quote.sent"]})
    assert response.status_code == 400
    response = client.post("/webhooks/new/", {"url": "https://erp.example/hook", "events": ["invoice.issued"]})
    assert response.status_code == 201 and WebhookSubscription.objects.get().secret in response.content.decode()
    subscription = WebhookSubscription.objects.get()
    assert client.post(f"/webhooks/{subscription.pk}/active/").status_code == 302
    subscription.refresh_from_db()
    assert not subscription.active


@pytest.mark.parametrize("url", ["https://127.0.0.1/h", "https://10.1.2.3/h", "https://[::1]/h", "https://localhost/h",
                                 "https://169.254.169.254/latest/meta-data", "https://[::ffff:192.168.0.1]/h",
                                 "https://0.0.0.0/h", "https://api.localhost/h"])
def test_a_receiver_inside_the_network_is_refused_when_saved(people, settings, url):
    settings.PSOPS_WEBHOOKS_PRIVATE = False
    refusal = assert_refused(lambda: subscription_create(user=people["admin"], url=url, events=["quote.sent"]),
                             "invalid-url")
    assert "public addresses only" in refusal.message and "PSOPS_WEBHOOKS_PRIVATE" in refusal.message


def test_a_name_resolving_inside_is_refused_at_each_attempt_and_nothing_is_sent(people, settings, receiver,
                                                                                monkeypatch):
    r = receiver([])
    subscription_create(user=people["admin"], url=r.url, events=["quote.sent"])
    # The name was public when saved; it resolves to this machine when the worker sends (the resolver is the
    # system's: it is told what DNS would answer).
    WebhookSubscription.objects.update(url=r.url.replace("127.0.0.1", "receiver.example.com"))
    monkeypatch.setattr("psops.api.webhooks.socket.getaddrinfo",
                        lambda host, *a, **k: [(2, 1, 6, "", ("127.0.0.1", 0))] if host == "receiver.example.com"
                        else pytest.fail(f"resolved {host}"))
    settings.PSOPS_WEBHOOKS_PRIVATE = False
    reach(people, "quote-sent")
    read_timeline(now=later())
    assert send_due(now=later()) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status is None and r.received == []
    assert "public addresses only" in delivery.last_error and "127.0.0.1" in delivery.last_error


def test_a_redirect_is_the_receivers_answer_and_is_not_followed(people, receiver):
    target = receiver([])
    hop = receiver([])
    hop.statuses = []  # answers every POST with a redirect to the other receiver

    def redirect(handler_self):
        handler_self.send_response(307)
        handler_self.send_header("Location", target.url)
        handler_self.end_headers()

    hop.server.RequestHandlerClass.do_POST = redirect
    subscription_create(user=people["admin"], url=hop.url, events=["quote.sent"])
    reach(people, "quote-sent")
    read_timeline(now=later())
    send_due(now=later())
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status == 307 and delivery.state == "pending" and target.received == []
