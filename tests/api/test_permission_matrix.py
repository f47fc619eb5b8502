"""Every role x every act of the API, on a record of each kind in each state the demo holds: the API refuses exactly
as the record page does (the act's own check, `Act.refusal_of_post`, which the page asks too: see
tests/web/test_every_act.py), with the same code and status, and never answers 5xx. A record the person does not
see is not found, whatever the act. Each post runs inside a savepoint rolled back, so one act does not change what
the next one meets."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from psops.accounts import roles
from psops.api.errors import status_of_refusal
from psops.api.resources import RESOURCES
from psops.api.services import token_create
from psops.api.webhooks import webhook_manage_check
from psops.billing import services as billing
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.crm.import_runs import import_check
from psops.delivery import services as delivery
from psops.estimating import services as estimating
from psops.web import acts as act_registry
from psops.web.records import KINDS
from psops.workflow.demo import DEMO_USERS, ensure_users
from psops.workflow.invariants import integrity_check

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
    _check_the_rest(client, user, auth)


def _rule(check) -> ApplicationError | None:
    try:
        check()
    except ApplicationError as refusal:
        return refusal
    return None


def _check_the_rest(client, user, auth: dict) -> None:
    """The lists and the operations across records: allowed exactly when the rule the page asks allows, refused
    with that rule's words otherwise. A body of the right shape is sent, so the rule, not the schema, answers."""
    for resource in RESOURCES:
        listing = resource.listing
        response = client.get(f"/api/v1/{resource.path}/", **auth)
        where = f"{user.username} GET {resource.path}/"
        if listing.may(user):
            assert response.status_code == 200, where
        else:
            assert (response.status_code, response.json()["message"]) == (403, listing.refusal), where
    holds = bool(user.is_superuser or roles.roles_of(user))
    reads = {"/queues": holds, "/inbox": holds, "/dashboard": holds, "/search?q=acme": holds,
             "/people/": holds, "/time/weeks": _rule(lambda: delivery.time_approve_week_check(user=user)) is None,
             "/webhooks": _rule(lambda: webhook_manage_check(user=user)) is None,
             "/webhooks/events": _rule(lambda: webhook_manage_check(user=user)) is None,
             "/imports/": _rule(lambda: import_check(user=user)) is None,
             "/calculator/templates": _rule(lambda: estimating.calculator_check(user=user)) is None,
             "/integrity": _rule(lambda: integrity_check(user=user)) is None}
    for path, allowed in reads.items():
        response = client.get(f"/api/v1{path}", **auth)
        assert response.status_code == (200 if allowed else 403), (user.username, path, response.content[:200])
    week = str(timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday()))
    posts = [
        ("/opportunities/", {"account_name": "Matrix Ltd", "name": "Matrix", "segment": "large", "amount": "1",
                             "currency": "USD", "close_date": "2030-01-31"},
         lambda: crm.deal_open_check(user=user)),
        ("/time/approve", {"engineer": user.pk, "week": week},
         lambda: delivery.time_approve_week_check(user=user)),
        ("/invoices/issue", {"invoices": [1]}, lambda: billing.invoices_issue_check(user=user)),
        ("/payments", {"payments": [{"invoice": 1, "amount": "1.00", "received_on": "2026-01-02"}]},
         lambda: billing.payment_record_check(user=user)),
        ("/collections/remind", {}, lambda: billing.collection_remind_due_check(user=user)),
        ("/webhooks", {"url": "https://erp.example/hook", "events": ["quote.sent"]},
         lambda: webhook_manage_check(user=user)),
    ]
    for path, body, check in posts:
        expected = _rule(check)
        with transaction.atomic():
            response = client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json", **auth)
            transaction.set_rollback(True)
        where = (user.username, path, response.content[:300])
        assert response.status_code < 500, where
        if expected is not None:
            assert response.status_code == status_of_refusal(expected), where
            assert response.json()["message"] == expected.message, where
        else:
            assert response.status_code != 403 or response.json()["code"] != "forbidden", where
