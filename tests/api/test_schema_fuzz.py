"""schemathesis against the served OpenAPI document: every operation, with generated requests, sent with the tokens
of people in different roles (a sales rep, a PS manager, Finance, an administrator). No answer may be a 5xx, and
every answer must be one the document declares (status, content type and body schema).

Each operation is tried twice: with generated path ids (mostly records that do not exist) and with the id of a real
record of the demo (so acts meet real records in real states). Every call runs in a savepoint rolled back, so the
demo stays as it was for the next one. The example budget is stated here: EXAMPLES per operation and id source,
derandomized, so a run is repeatable and bounded (about a minute for the whole document)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from psops.api.resources import RESOURCES
from psops.api.services import token_create
from psops.workflow.demo import ensure_users

pytestmark = pytest.mark.django_db

EXAMPLES = 4
ROLES = ("sal", "psmanager", "finance", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def real_ids() -> dict[str, list[int]]:
    """Path prefix -> the ids of its demo records (a few of each kind)."""
    return {f"/api/v1/{r.path}/": list(r.model._default_manager.order_by("pk").values_list("pk", flat=True)[:8])
            for r in RESOURCES}


@pytest.fixture
def keep_the_test_connection():
    """Django closes a connection at the end of each request when it is not in autocommit; in a test, inside the
    test's transaction, that would close the test's own connection (on PostgreSQL). Django's test Client unhooks
    this the same way; the WSGI handler schemathesis calls does not."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_operation_answers_as_its_schema_says(keep_the_test_connection):
    call_command("demo")
    people = ensure_users()
    tokens = [token_create(user=people[name], name="fuzz")[1] for name in ROLES]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    ids = real_ids()
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        prefix = next((p for p in ids if operation.path.startswith(p) and "{id}" in operation.path), None)
        strategies = [operation.as_strategy()]
        if prefix and ids[prefix]:
            strategies.append(st.sampled_from(ids[prefix]).flatmap(
                lambda pk, op=operation: op.as_strategy(path_parameters={"id": pk})))

        for strategy in strategies:
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def check(case):
                nonlocal tried
                for token in tokens:
                    with transaction.atomic():
                        response = case.call(headers={"Authorization": f"Bearer {token}"})
                        transaction.set_rollback(True)
                    case.validate_response(response, checks=CHECKS)
                    tried += 1

            check()
    assert tried > 1000


STATEFUL_EXAMPLES, STATEFUL_STEPS = 25, 8  # scenarios, and calls in each: the stated budget of the stateful run


def test_following_the_documents_links_from_call_to_call_stays_in_its_schema(keep_the_test_connection):
    """schemathesis's stateful run: scenarios of calls, each taking a record's id from the answer before it along
    the links the document declares (a list to a record, a record to its acts, a new deal or ROM to its acts), as
    the sales rep. Each scenario runs in a savepoint rolled back, so the next one meets the demo as it was."""
    call_command("demo")
    token = token_create(user=ensure_users()["sal"], name="stateful")[1]
    # The deals' and ROMs' operations: a budget this small meets a link often only among a few dozen operations.
    schema = (schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
              .include(path_regex=r"^/api/v1/(opportunities|roms)/"))
    followed = {"links": 0, "calls": 0}

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self):
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

        def step(self, input):
            followed["calls"] += 1
            followed["links"] += input.transition is not None and input.is_applied
            return super().step(input)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Scenario.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS,
                                   deadline=None, derandomize=True, database=None,
                                   suppress_health_check=list(HealthCheck)))
    assert followed["calls"] >= STATEFUL_EXAMPLES and followed["links"] > 0, followed
