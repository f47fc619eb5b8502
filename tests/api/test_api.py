"""The API's promises beyond one act: bounded lists scoped as the pages, one error shape for every bad request and
no change made by one, idempotent POSTs, and an OpenAPI document that describes every operation."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from psops.activity.models import TimelineEvent
from psops.crm.models import Opportunity
from tests.factories import db_state, reach

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "field"}


def business_state() -> dict:
    """Every table but the API's own (a token records when it was last used)."""
    return {table: rows for table, rows in db_state().items() if not table.startswith("api_")}


def new_deal(name: str = "Initrode platform", **more) -> dict:
    return {"account_name": f"{name} account", "name": name, "segment": "large", "amount": "1000.00",
            "currency": "USD", "close_date": "2030-01-31", **more}


# --- Reading ----------------------------------------------------------------------------------------------------


def test_lists_show_what_the_pages_show_and_no_more(api, people):
    mine = reach(people, "deal").opp
    theirs = reach(people, "deal", name="Globex").opp
    Opportunity.objects.filter(pk=theirs.pk).update(owner=people["sal2"])
    seen = {row["id"] for row in api("sal").get("/opportunities/").json()["items"]}
    assert seen == {mine.pk}
    assert api("sal").get(f"/opportunities/{theirs.pk}").status_code == 404
    assert {row["id"] for row in api("sa").get("/opportunities/").json()["items"]} == {mine.pk, theirs.pk}
    # Invoices are Finance's list, as on the page: a sales rep is told so.
    refused = api("sal").get("/invoices/")
    assert refused.status_code == 403 and refused.json()["message"] == "Invoices are for Finance and the controller."


def test_lists_filter_sort_and_page_within_bounds(api, people):
    for n in range(3):
        api("sal").ok("/opportunities/", new_deal(f"Deal {n}"))
    sal = api("sal")
    first = sal.get("/opportunities/", sort="deal", page_size=2).json()
    assert [r["name"] for r in first["items"]] == ["Deal 0", "Deal 1"] and first["has_next"]
    second = sal.get("/opportunities/", sort="deal", page_size=2, page=2).json()
    assert [r["name"] for r in second["items"]] == ["Deal 2"] and not second["has_next"]
    assert [r["name"] for r in sal.get("/opportunities/", sort="-deal").json()["items"]][0] == "Deal 2"
    assert sal.get("/opportunities/", q="Deal 1").json()["items"][0]["name"] == "Deal 1"
    row = first["items"][0]
    assert row["amount"] == "1000.00" and row["currency"] == "USD"  # money: a decimal string with its currency
    for bad in ({"page_size": 101}, {"page_size": 0}, {"page": 0}, {"page": 10**6}, {"sort": "password"},
                {"stage": "no-such-stage"}, {"page": "x"}):
        response = sal.get("/opportunities/", **bad)
        assert response.status_code == 422, bad
        assert set(response.json()) == ERROR_KEYS and response.json()["field"], bad


@pytest.mark.parametrize("path", ["/opportunities/", "/projects/", "/approvals/", "/roms/", "/quotes/", "/accounts/"])
def test_a_list_costs_the_same_whatever_it_holds(api, people, path):
    reader = api("admin")
    reach(people, "won")
    reader.get(path)  # the token's first use of the minute records when it was used: one UPDATE, then none
    with CaptureQueriesContext(connection) as one:
        assert reader.get(path).status_code == 200
    for name in ("Globex", "Initech", "Hooli"):
        reach(people, "won", name=name)
    with CaptureQueriesContext(connection) as many:
        assert reader.get(path).status_code == 200
    assert len(many) == len(one) <= 6, [q["sql"][:80] for q in many]


# --- Refusals ---------------------------------------------------------------------------------------------------


def test_every_bad_request_gets_one_shape_and_changes_nothing(api, people):
    e = reach(people, "rom")
    sal, pse, finance, manager = api("sal"), api("pse"), api("finance"), api("psmanager")
    before, events = business_state(), TimelineEvent.objects.count()
    cases = [
        (sal.post("/opportunities/", raw="{not json"), 400, "bad-request"),
        (sal.post("/opportunities/", raw="[1, 2]"), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(colour="red")), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(segment="galactic")), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(amount="-5")), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(amount="1e400")), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(close_date="31/01/2030")), 422, "invalid"),
        (sal.post("/opportunities/", new_deal(account_name="")), 422, "invalid-account"),
        (pse.post("/opportunities/", new_deal()), 403, "forbidden"),
        (sal.post(f"/opportunities/{e.opp.pk}/team", {}), 409, "unchanged"),
        (sal.post(f"/opportunities/{e.opp.pk}/team", {"solutions_architect": people["pse"].pk}), 422, "invalid"),
        (sal.post(f"/roms/{e.rom.pk}/estimate", {"low": "1", "high": "2", "note": "x"}), 403, None),
        (sal.post(f"/roms/{2**63}/submit"), 422, "invalid"),
        (sal.post("/roms/999999/submit"), 404, "not-found"),
        (sal.post("/roms/", {"opportunity": e.opp.pk, "template": "sm-to-saas", "answers": {"users": "lots"}}),
         422, None),
        (sal.post(f"/roms/{e.rom.pk}/submit", headers={"Idempotency-Key": "x" * 300}), 400, "bad-request"),
        (finance.post("/time/approve", {"engineer": people["pse"].pk, "week": "2030-01-01"}), 403, None),
        (manager.post("/time/approve", {"engineer": people["pse"].pk, "week": "2030-01-02"}), 422, "invalid"),
    ]
    for response, status, code in cases:
        body = json.loads(response.content)
        assert (response.status_code, set(body)) == (status, ERROR_KEYS), body
        assert body["message"] and "Traceback" not in body["message"], body
        assert code is None or body["code"] == code, body
    assert business_state() == before and TimelineEvent.objects.count() == events


def test_addresses_and_methods_outside_the_document_answer_in_the_same_shape(api):
    sal = api("sal")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {sal.token}"}
    response = sal.client.delete("/api/v1/opportunities/", **auth)
    assert response.status_code == 405 and response.json()["code"] == "method-not-allowed" and response["Allow"]
    for path in ("/api/v1/invoices//issue", "/api/v1/nothing", "/api/v2/opportunities/"):
        response = sal.client.get(path, **auth)
        assert response.status_code == 404 and set(response.json()) == ERROR_KEYS, path
    # Without its slash an address is not found, never redirected (a POST would be lost on the way).
    response = sal.client.post("/api/v1/opportunities", "{}", content_type="application/json", **auth)
    assert response.status_code == 404 and response.json()["code"] == "not-found"


# --- Idempotency ------------------------------------------------------------------------------------------------


def test_a_replayed_key_returns_the_first_answer_and_does_nothing(api):
    sal = api("sal")
    key = {"Idempotency-Key": "deal-7f3c"}
    first = sal.post("/opportunities/", new_deal(), headers=key)
    again = sal.post("/opportunities/", new_deal(), headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Opportunity.objects.count() == 1
    other = sal.post("/opportunities/", new_deal("Another deal"), headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"
    assert Opportunity.objects.count() == 1
    # Keys are each person's own: the same key from somebody else is a new request.
    assert api("salesmgr").post("/opportunities/", new_deal("Theirs"), headers=key).status_code == 201


def test_a_refused_request_keeps_no_key_so_a_corrected_retry_runs(api):
    sal = api("sal")
    key = {"Idempotency-Key": "retry-1"}
    assert sal.post("/opportunities/", new_deal(segment="galactic"), headers=key).status_code == 422
    assert sal.post("/opportunities/", new_deal(segment="galactic"), headers=key).status_code == 422
    assert Opportunity.objects.count() == 0


def test_acts_take_a_key_too(api, people):
    e = reach(people, "ps")
    sal = api("sal")
    key = {"Idempotency-Key": "submit-rom"}
    first = sal.post(f"/roms/{e.rom.pk}/submit", headers=key)
    assert first.status_code == 200
    assert sal.post(f"/roms/{e.rom.pk}/submit", headers=key).json() == first.json()  # not "already submitted"
    assert sal.post(f"/roms/{e.rom.pk}/submit").status_code == 409  # without the key it is a second submit


# --- What the caller may do now ----------------------------------------------------------------------------------


def test_acts_says_what_the_page_offers(api, people):
    e = reach(people, "ps")
    offers = {o["code"]: o for o in api("sal").get(f"/roms/{e.rom.pk}/acts").json()}
    assert offers["submit"]["allowed"] and offers["submit"]["href"] == f"/api/v1/roms/{e.rom.pk}/submit"
    assert "estimate" not in offers  # a technical architect's act: not offered to a sales rep at all


# --- The contract ---------------------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_operation(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200

    def once_each(pairs):  # a key written twice (an int and a str 200) breaks the interactive docs
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    doc = json.loads(response.content, object_pairs_hook=once_each)
    assert doc["openapi"].startswith("3.1")
    operations = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]
    assert len(operations) > 80
    for path, method, op in operations:
        codes = set(op["responses"])
        assert {"401", "403", "404", "422"} <= codes, (path, method)
        assert any(c.startswith("2") for c in codes), (path, method)
        if method == "post":
            assert "requestBody" in op, path
            assert op.get("security") == [{"TokenAuth": []}], path
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn." not in page and "/static/ninja/" in page  # served from psops itself, nothing fetched elsewhere


def test_old_idempotency_answers_are_pruned_with_the_housekeeping(api):
    import datetime as dt
    import io

    from django.core.management import call_command
    from django.utils import timezone

    from psops.api.models import IdempotentRequest

    sal = api("sal")
    sal.post("/opportunities/", new_deal("Old"), headers={"Idempotency-Key": "old"})
    sal.post("/opportunities/", new_deal("New"), headers={"Idempotency-Key": "new"})
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(days=40))
    out = io.StringIO()
    call_command("prune", stdout=out)
    assert "Also deleted 1 idempotency answers." in out.getvalue()
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]


def test_batches_and_messages_go_through_the_same_services(api, people):
    from psops.activity.models import Message
    from psops.billing.models import Invoice, Payment

    e = reach(people, "won")
    finance, sal = api("finance"), api("sal")
    draft = Invoice.objects.get(project=e.project)
    assert sal.post("/invoices/issue", {"invoices": [draft.pk]}).status_code == 403
    issued = finance.ok("/invoices/issue", {"invoices": [draft.pk]})
    draft.refresh_from_db()
    assert issued["issued"][0]["number"] == draft.number and draft.state == "issued"
    assert finance.post("/invoices/issue", {"invoices": [draft.pk]}).status_code == 409  # not a draft any more
    recorded = finance.ok("/payments", {"payments": [{"invoice": draft.pk, "amount": "100.00",
                                                      "received_on": "2026-11-30", "reference": "W-1"}]})
    assert recorded["recorded"] == 1 and Payment.objects.get().reference == "W-1"
    again = finance.post("/payments", {"payments": [{"invoice": draft.pk, "amount": "100.00",
                                                     "received_on": "2026-11-30", "reference": "W-1"}]})
    assert again.status_code == 409 and Payment.objects.count() == 1
    assert finance.ok("/collections/remind")["message"]
    posted = sal.ok(f"/opportunities/{e.opp.pk}/messages", {"body": "Kick-off moved to Monday @pse"}, status=201)
    assert posted["message"].startswith("Posted") and Message.objects.get().body.startswith("Kick-off")
    assert sal.post(f"/opportunities/{e.opp.pk}/messages", {"body": ""}).status_code == 422
    assert api("sal2").post(f"/opportunities/{e.opp.pk}/messages", {"body": "hi"}).status_code == 404


def test_a_records_documents_are_listed_and_downloaded_by_whoever_sees_the_deal(api, people):
    e = reach(people, "quote-sent")  # the quote's PDF is made at once when it is sent
    listed = api("sal").get(f"/quotes/{e.quote.pk}/documents")
    assert listed.status_code == 200
    pdf = next(d for d in listed.json() if d["kind"] == "quote" and d["format"] == "pdf")
    assert pdf["state"] == "ready" and pdf["href"] == f"/api/v1/documents/{pdf['id']}"
    sal = api("sal")
    file = sal.client.get(pdf["href"], HTTP_AUTHORIZATION=f"Bearer {sal.token}")
    assert file.status_code == 200 and file["Content-Type"] == "application/pdf"
    assert file.content.startswith(b"%PDF") and file["ETag"] == f'"{pdf["sha256"]}"'
    other = api("sal2")
    assert other.get(f"/quotes/{e.quote.pk}/documents").status_code == 404
    refused = other.client.get(pdf["href"], HTTP_AUTHORIZATION=f"Bearer {other.token}")
    assert refused.status_code == 404 and refused.json()["code"] == "not-found"
    assert sal.client.get("/api/v1/documents/999999", HTTP_AUTHORIZATION=f"Bearer {sal.token}").status_code == 404
