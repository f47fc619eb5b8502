"""Two POSTs with one Idempotency-Key at the same moment (a client that timed out and retried while the first was
still running): one effect, and both get the same answer. Needs PostgreSQL's row locks; CI runs it there."""

import json

from django.test import Client

from psops.api.models import IdempotentRequest
from psops.api.services import token_create
from psops.crm.models import Opportunity
from tests.builders_concurrency import ON_POSTGRES, race, staff

pytestmark = ON_POSTGRES

ROUNDS = 5


def poster(token: str, key: str, body: dict):
    def prepare():
        client = Client()
        return lambda: client.post("/api/v1/opportunities/", json.dumps(body), content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=key)
    return prepare


def test_two_posts_with_one_key_at_once_have_one_effect():
    people = staff()
    _, token = token_create(user=people["sal"], name="race")
    for round_ in range(ROUNDS):
        body = {"account_name": f"Race {round_}", "name": f"Race deal {round_}", "segment": "large",
                "amount": "10.00", "currency": "USD", "close_date": "2030-01-31"}
        outcomes = race(poster(token, f"race-{round_}", body), poster(token, f"race-{round_}", body))
        assert all(o.crashed is None and o.refused is None for o in outcomes), outcomes
        answers = [(o.value.status_code, o.value.json()) for o in outcomes]
        assert answers[0] == answers[1] and answers[0][0] == 201, answers
        assert Opportunity.objects.filter(name=f"Race deal {round_}").count() == 1
    assert IdempotentRequest.objects.filter(status=201).count() == ROUNDS
