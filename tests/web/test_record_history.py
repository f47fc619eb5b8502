"""A record page with a long history: the newest events first, a page of 50 at a time, the thread's newest messages
in reading order, page links that keep each other, and page numbers that can never break the page."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from psops.activity.models import Message, Notification, TimelineEvent
from psops.activity.services import thread_for
from psops.crm.models import Opportunity
from psops.web.views.records import EVENTS_PER_PAGE, MESSAGES_PER_PAGE

pytestmark = pytest.mark.django_db

BAD_PAGES = ["abc", "0", "-1", "", "1.5", "2e3", "99999", "9" * 5000, "%00", "1;select"]


@pytest.fixture
def deal():
    call_command("demo")
    return Opportunity.objects.get(account__name="Wayne Enterprises")


def url_of(obj) -> str:
    return reverse(f"web:{obj._meta.model_name}", args=[obj.pk])


def add_events(record, n: int) -> None:
    ct = ContentType.objects.get_for_model(record)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(subject_type=ct, subject_id=record.pk, verb="test.note", message=f"event #{i:04d}",
                      actor_label="system") for i in range(n))


def add_messages(deal, n: int) -> list[Message]:
    author = deal.owner
    return Message.objects.bulk_create(Message(thread=thread_for(deal), author=author, body=f"message #{i:04d}")
                                       for i in range(n))


def test_the_newest_events_show_first_and_older_ones_on_the_next_page(client, deal):
    add_events(deal, 120)
    client.login(username="sal", password="demo")
    first = client.get(url_of(deal)).content.decode()
    assert "event #0119" in first and "event #0070" in first
    assert "event #0069" not in first and "event #0000" not in first
    assert first.index("event #0119") < first.index("event #0070")  # newest first
    assert first.count("event #") == EVENTS_PER_PAGE
    assert 'href="?events=2" rel="next">Older events</a>' in first
    second = client.get(url_of(deal) + "?events=2").content.decode()
    assert "event #0069" in second and "event #0020" in second and "event #0070" not in second
    assert 'href="?events=1" rel="prev">Newer events</a>' in second
    last = client.get(url_of(deal) + "?events=3").content.decode()
    assert "event #0000" in last and "Older events" not in last


def test_the_thread_shows_its_newest_messages_in_reading_order(client, deal):
    add_messages(deal, 70)
    client.login(username="sal", password="demo")
    first = client.get(url_of(deal)).content.decode()
    assert "message #0069" in first and "message #0020" in first and "message #0019" not in first
    assert first.index("message #0020") < first.index("message #0069")  # the newest last, above the post box
    assert first.count("message #") == MESSAGES_PER_PAGE
    older = client.get(url_of(deal) + "?messages=2").content.decode()
    assert "message #0019" in older and "message #0069" not in older
    # Each pager keeps the other's page.
    both = client.get(url_of(deal) + "?events=1&messages=2").content.decode()
    assert 'href="?events=1&amp;messages=1" rel="prev">Newer messages</a>' in both


def test_a_reply_to_an_older_message_still_lands_in_the_thread(client, deal):
    old = add_messages(deal, 70)[0]
    client.login(username="sal", password="demo")
    assert f'name="parent" value="{old.pk}"' in client.get(url_of(deal) + "?messages=2").content.decode()
    response = client.post(reverse("web:message", args=["opportunity", deal.pk]),
                           {"body": "Answering the first one", "kind": "comment", "parent": old.pk})
    assert response.status_code == 302
    reply = Message.objects.get(parent=old)
    newest = client.get(url_of(deal)).content.decode()
    assert f'id="m{reply.pk}"' in newest and "in reply to" in newest


def test_bad_page_numbers_show_the_first_page(client, deal):
    add_events(deal, 60)
    add_messages(deal, 60)
    client.login(username="sal", password="demo")
    for param in ("events", "messages"):
        for value in BAD_PAGES:
            response = client.get(url_of(deal), {param: value})
            assert response.status_code == 200, (param, value)
            page = response.content.decode()
            assert "event #0059" in page and "message #0059" in page, (param, value)


def test_the_record_page_costs_the_same_with_a_long_history(client, deal):
    client.login(username="sal", password="demo")
    client.get(url_of(deal))
    with CaptureQueriesContext(connection) as before:
        client.get(url_of(deal))
    add_events(deal, 300)
    add_messages(deal, 300)
    with CaptureQueriesContext(connection) as after:
        client.get(url_of(deal) + "?events=4&messages=3")
    assert len(before) == len(after)


def test_the_inbox_shows_a_page_at_a_time(client, deal):
    user = deal.owner
    Notification.objects.bulk_create(Notification(recipient=user, kind="test", text=f"note #{i:04d}")
                                     for i in range(80))
    client.login(username="sal", password="demo")
    page = client.get("/inbox/").content.decode()
    assert "note #0079" in page and page.count("note #") == 25 and 'href="?page=2"' in page
    for value in BAD_PAGES:
        assert client.get("/inbox/", {"page": value}).status_code == 200
