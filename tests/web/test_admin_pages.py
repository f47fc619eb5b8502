"""The pages of tokens, webhooks and imports cost a fixed number of queries, whatever they list (a page of 25)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.api.models import WebhookDelivery
from psops.api.services import token_create
from psops.api.webhooks import subscription_create
from psops.crm.models import ImportRun

pytestmark = pytest.mark.django_db


def _add(people, who: str, n: int, subscription) -> None:
    """n more tokens (of the reader), subscriptions, imports and deliveries."""
    first = WebhookDelivery.objects.count()
    for i in range(first, first + n):
        token_create(user=people[who], name=f"token {i}")
        subscription_create(user=people["admin"], url=f"https://hooks.example.com/{i}", events=["quote.sent"])
        ImportRun.objects.create(created_by=people["admin"], filename=f"report {i}.csv", stored="imports/x.csv",
                                 kind="csv", size=10, errors=[[i, "account", "missing"]] * 50)
        WebhookDelivery.objects.create(subscription=subscription, event="quote.sent", timeline_event_id=i,
                                       body="{}", state=WebhookDelivery.State.FAILED if i % 2 else
                                       WebhookDelivery.State.DELIVERED,
                                       next_attempt_at=timezone.now() + dt.timedelta(minutes=i))


@pytest.mark.parametrize("who,path,queries", [
    ("sal", "/tokens/", 7), ("admin", "/tokens/", 7), ("admin", "/webhooks/", 7),
    ("admin", "/webhooks/{sub}/", 9), ("admin", "/imports/", 7)])
def test_each_page_costs_the_same_whatever_it_lists(client, people, who, path, queries):
    subscription = subscription_create(user=people["admin"], url="https://hooks.example.com/psops",
                                       events=["quote.sent"])
    url = path.format(sub=subscription.pk)
    client.force_login(people[who])
    _add(people, who, 2, subscription)
    client.get(url)  # the session's first page records what it needs once
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _add(people, who, 40, subscription)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
        assert response.status_code == 200
    assert (len(few), len(many)) == (queries, queries), [q["sql"][:100] for q in many.captured_queries]
    assert b'rel="next"' in response.content  # a page of 25 was shown, of 42
