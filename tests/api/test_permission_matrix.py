"""Every role x every act of the API, on a record of each kind in each state the demo holds: the API refuses exactly
as the record page does (the act's own check, `Act.refusal_of_post`, which the page asks too: see
tests/web/test_every_act.py), with the same code and status, and never answers 5xx. A record the person does not
see is not found, whatever the act. Each post runs inside a savepoint rolled back, so one act does not change what
the next one meets."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import transaction

from psops.api.errors import status_of_refusal
from psops.api.resources import RESOURCES
from psops.api.services import token_create
from psops.web import acts as act_registry
from psops.web.records import KINDS
from psops.workflow.demo import DEMO_USERS, ensure_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("demo")


def samples() -> list:
    """One record of each kind for each state it is in (the demo spreads its deals over the whole process)."""
    chosen = []
    for resource in RESOURCES:
        if resource.model_name not in KINDS:
            continue
        model = resource.model
        state = next(f.name for f in model._meta.concrete_fields if f.name in ("state", "stage", "status"))
        seen = set()
        for pk, value in model.objects.order_by("pk").values_list("pk", state):
            if value not in seen:
                seen.add(value)
                chosen.append((resource, pk))
    return chosen


def test_the_api_refuses_each_act_as_the_page_does(client, demo):
    """Every demo person in turn, on the one demo (loaded once: the posts are rolled back)."""
    for username, *_ in DEMO_USERS:
        _check_person(client, username)


def _check_person(client, username: str) -> None:
    user = ensure_users()[username]
    _, token = token_create(user=user, name="matrix")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    checked = refused = 0
    for resource, pk in samples():
        kind = KINDS[resource.model_name]
        record = kind.load(pk)
        sees = user.has_perm("crm.view_deal", kind.deal_of(record))
        for act in act_registry.acts_for(resource.model_name):
            expected = act.refusal_of_post(user, record) if sees else None
            with transaction.atomic():
                response = client.post(f"/api/v1/{resource.path}/{pk}/{act.code}", "{}",
                                       content_type="application/json", **auth)
                transaction.set_rollback(True)
            checked += 1
            where = f"{username} {resource.path}/{pk}/{act.code}"
            assert response.status_code < 500, where
            body = json.loads(response.content)
            if not sees:
                assert (response.status_code, body["code"]) == (404, "not-found"), where
            elif expected is not None:
                refused += 1
                assert response.status_code == status_of_refusal(expected), where
                assert body == {"code": expected.code, "message": expected.message, "field": expected.field}, where
            else:
                assert response.status_code in (200, 201, 409, 422), (where, body)
                if response.status_code >= 400:
                    assert body["code"] not in ("forbidden", "not-now") and body["message"], (where, body)
    assert checked > 100 and refused > 0, username
