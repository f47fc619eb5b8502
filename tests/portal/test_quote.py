"""The customer answers the quote through their link: accept or decline; every bad use changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.documents import services as documents
from psops.links.models import CustomerLink
from psops.sales import services as sales
from psops.sales.models import Quote
from tests.factories import db_state
from tests.portal.conftest import AGENT, IP, link_path, shown_fields

pytestmark = pytest.mark.django_db


def state(e):
    return Quote.objects.get(pk=e.quote.pk).state


def test_the_page_shows_the_quote_with_its_answers(sent, client):
    e, path = sent("quote-sent")
    response = client.get(path)
    page = response.content.decode()
    assert response.status_code == 200
    quote = e.quote
    for text in (str(quote), quote.ps_opportunity.name, f"{quote.total:,}", str(quote.valid_until),
                 quote.lines.first().description, quote.terms[:40], "Accept the quote", "Decline the quote",
                 "csrfmiddlewaretoken", e.contact.name):
        assert text in page, text
    assert 'aria-label="Main"' not in page  # no staff navigation for a customer
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "Content-Security-Policy" in response


def test_accepting_records_the_answer_and_uses_the_link(sent, client, customer_post):
    e, path = sent("quote-sent")
    events = TimelineEvent.objects.count()
    response = customer_post(path, {"action": "accept"})
    assert response.status_code == 200 and "You accepted the quote" in response.content.decode()
    quote = Quote.objects.get(pk=e.quote.pk)
    assert quote.state == "accepted" and quote.answered_at is not None
    e.ps.refresh_from_db()
    assert e.ps.stage == "quote-accepted" and e.ps.ps_amount == quote.total
    event = TimelineEvent.objects.get(verb="quote.accepted")
    assert event.actor is None and e.contact.email in event.actor_label
    shown = documents.current_document(quote, "quote")
    assert quote.accepted_document == shown and quote.accepted_sha256 == shown.sha256 != ""
    assert event.data == {"ip": IP, "user_agent": AGENT, "document_sha256": shown.sha256}
    assert TimelineEvent.objects.count() > events
    assert CustomerLink.objects.get().used_at is not None


def test_declining_records_the_reason(sent, customer_post):
    e, path = sent("quote-sent")
    response = customer_post(path, {"action": "decline", "reason": "Over budget this year"})
    assert response.status_code == 200 and "You declined the quote" in response.content.decode()
    quote = Quote.objects.get(pk=e.quote.pk)
    assert (quote.state, quote.answer_note) == ("declined", "Over budget this year")
    assert TimelineEvent.objects.filter(verb="quote.declined", message__contains="Over budget").exists()
    assert CustomerLink.objects.get().used_at is not None


def test_a_reused_link_is_gone_and_changes_nothing(sent, client, customer_post):
    e, path = sent("quote-sent")
    customer_post(path, {"action": "accept"})
    before = db_state()
    for response in (customer_post(path, {"action": "decline"}), client.get(path)):
        assert response.status_code == 410
        assert "already been used" in response.content.decode()
    assert db_state() == before and state(e) == "accepted"


def test_an_expired_link_is_gone_and_changes_nothing(sent, client, customer_post):
    e, path = sent("quote-sent")
    CustomerLink.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    before = db_state()
    for response in (client.get(path), customer_post(path, {"action": "accept"})):
        page = response.content.decode()
        assert response.status_code == 410 and "This link has expired" in page
        assert e.people["sal"].email in page  # whom to ask for a new link
    assert db_state() == before and state(e) == "sent"


def test_an_altered_link_is_not_found_and_changes_nothing(sent, client, customer_post):
    e, path = sent("quote-sent")
    token = path.strip("/").split("/")[-1]
    altered = f"/c/{token[:10]}{'x' if token[10] != 'x' else 'y'}{token[11:]}/"
    before = db_state()
    for response in (client.get(altered), customer_post(altered, {"action": "accept"}),
                     client.get("/c/nonsense/")):
        assert response.status_code == 404 and "This link is not valid" in response.content.decode()
    assert db_state() == before and state(e) == "sent"


def test_an_answer_the_link_is_not_for_is_refused(sent, customer_post):
    e, path = sent("quote-sent")
    before = db_state()
    for data in ({"action": "sign", "name": "Casey", "title": "CTO"}, {"action": "reply"}, {}):
        response = customer_post(path, data)
        assert response.status_code == 400 and "This link cannot do that" in response.content.decode()
    assert db_state() == before and CustomerLink.objects.get().used_at is None


def test_a_replaced_link_is_gone_and_the_new_one_works(sent, people, client, customer_post,
                                                       django_capture_on_commit_callbacks):
    e, first = sent("quote-sent")
    with django_capture_on_commit_callbacks(execute=True):
        sales.quote_resend(user=people["sal"], quote=e.quote)
    second = link_path(e.contact)
    before = db_state()
    response = customer_post(first, {"action": "accept"})
    assert response.status_code == 410 and "replaced by a newer one" in response.content.decode()
    assert db_state() == before and state(e) == "sent"
    assert customer_post(second, {"action": "accept"}).status_code == 200
    assert state(e) == "accepted"


def test_a_domain_refusal_shows_its_message_and_leaves_the_link_usable(sent, client, customer_post):
    e, path = sent("quote-sent")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Quote.objects.filter(pk=e.quote.pk).update(valid_until=yesterday)  # the expiry timer has not run yet
    assert "can no longer be accepted" in client.get(path).content.decode()
    before = db_state()
    response = customer_post(path, {"action": "accept"})
    assert response.status_code == 400 and f"expired on {yesterday}" in response.content.decode()
    assert db_state() == before and CustomerLink.objects.get().used_at is None
    # Once the SAL extends the validity, the same link still works.
    Quote.objects.filter(pk=e.quote.pk).update(valid_until=yesterday + dt.timedelta(days=10))
    assert customer_post(path, {"action": "accept"}).status_code == 200
    assert state(e) == "accepted"


def test_csrf_stays_on_for_the_customer(sent):
    from django.test import Client

    e, path = sent("quote-sent")
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(path, {"action": "accept"}).status_code == 403
    assert state(e) == "sent" and CustomerLink.objects.get().used_at is None
    browser.get(path)
    token = browser.cookies["csrftoken"].value
    assert browser.post(path, {"action": "accept", "csrfmiddlewaretoken": token,
                               **shown_fields(browser, path)}).status_code == 200
    assert state(e) == "accepted"


def test_only_get_and_post(sent, client):
    _, path = sent("quote-sent")
    assert client.put(path).status_code == 405 and client.delete(path).status_code == 405
