"""What a person's pages show besides the records, through the API: the home's queues, the inbox, search, the time
waiting for approval, the dashboard's figures and the collection cases, each under its page's rule."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from psops.activity.models import Notification
from psops.activity.services import notify
from psops.billing.models import CollectionCase
from tests.factories import reach

pytestmark = pytest.mark.django_db


def test_the_home_queues_say_what_waits_and_the_next_step(api, people):
    e = reach(people, "rom-submitted")
    queues = {q["title"]: q for q in api("psmanager").get("/queues").json()}
    waiting = queues["Approvals waiting for you"]
    assert waiting["total"] == 1 and waiting["items"][0]["kind"] == "approvalrequest"
    assert waiting["items"][0]["href"] == f"/api/v1/approvals/{waiting['items'][0]['id']}"
    mine = {q["title"]: q for q in api("sal").get("/queues").json()}["My deals and their next step"]
    assert [(i["kind"], i["id"], i["next_step"]) for i in mine["items"]] == [
        ("psopportunity", e.ps.pk, "Waiting for the ROM decision (step 6)")]
    assert api("sal").get(mine["items"][0]["href"].removeprefix("/api/v1")).status_code == 200


def test_the_time_queue_and_the_weeks_list_lead_to_the_approval(api, people):
    e = reach(people, "time-logged")
    manager = api("psmanager")
    time_queue = {q["kind"]: q for q in manager.get("/queues").json()}["time"]
    assert time_queue["total"] == 1 and time_queue["items"][0]["kind"] == "time-week"
    (week,) = manager.get("/time/weeks").json()
    assert (week["engineer"], week["hours"], week["entries"]) == (people["pse"].pk, "7.50", 1)
    done = manager.ok("/time/approve", {"engineer": week["engineer"], "week": week["week"]})
    assert done["approved"] == 1 and manager.get("/time/weeks").json() == []
    e.entry.refresh_from_db()
    assert e.entry.approved_at is not None
    refused = api("sal").get("/time/weeks")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_the_inbox_lists_pages_and_marks_read_ones_own_notifications_only(api, people):
    e = reach(people, "deal")
    notify(recipients=[people["sal"]], kind="mention", text="Look at this deal", subject=e.opp)
    notify(recipients=[people["sal"]], kind="mention", text="And this one")
    notify(recipients=[people["pse"]], kind="mention", text="Not for sal")
    sal = api("sal")
    page = sal.get("/inbox").json()
    assert [n["text"] for n in page["items"]] == ["And this one", "Look at this deal"] and page["unread"] == 2
    about = page["items"][1]
    assert (about["subject_kind"], about["href"]) == ("opportunity", f"/api/v1/opportunities/{e.opp.pk}")
    other = Notification.objects.get(recipient=people["pse"])
    assert sal.ok("/inbox/read", {"ids": [about["id"], other.pk]})["marked"] == 1
    other.refresh_from_db()
    assert other.read_at is None  # someone else's notification is not touched
    assert [n["text"] for n in sal.get("/inbox", unread="true").json()["items"]] == ["And this one"]
    assert sal.ok("/inbox/read", {})["marked"] == 1 and sal.get("/inbox").json()["unread"] == 0
    assert sal.post("/inbox/read", {"ids": [0]}).status_code == 422
    assert sal.post("/inbox/read", {"ids": "all"}).status_code == 422


def test_search_finds_only_what_the_caller_sees(api, people):
    reach(people, "deal", name="Globex")
    found = api("sal").get("/search", q="glob").json()
    assert [a["label"] for a in found["accounts"]] == ["Globex"]
    assert found["contacts"][0]["label"].startswith("Casey Customer <casey@globex.example>")
    assert found["deals"][0]["kind"] == "opportunity"
    assert api("sal2").get("/search", q="glob").json() == {"accounts": [], "contacts": [], "deals": []}
    for bad in ({"q": "g"}, {"q": "  "}, {}, {"q": "x" * 101}):
        response = api("sal").get("/search", **bad)
        assert response.status_code == 422 and response.json()["field"] == "q", bad


def test_the_dashboard_gives_the_pages_figures_and_refuses_a_future_day(api, people):
    reach(people, "rom-submitted")
    board = api("sal").get("/dashboard").json()
    panels = {p["key"]: p for p in board["panels"]}
    assert panels["pipeline"]["columns"][0] == {"heading": "PS stage", "numeric": False}
    assert panels["pipeline"]["rows"] and "ageing" not in panels  # receivables are Finance's
    assert "ageing" in {p["key"] for p in api("finance").get("/dashboard").json()["panels"]}
    for day, field in (("2999-01-01", "as_of"), ("yesterday", "as_of")):
        refused = api("finance").get("/dashboard", as_of=day)
        assert refused.status_code == 422 and refused.json()["field"] == field
        assert "as of now" not in refused.json()["message"]


def test_collection_cases_are_read_by_finance_alone(api, people):
    reach(people, "wrapped-up")
    case = CollectionCase.objects.get()
    finance = api("finance")
    (row,) = finance.get("/collections/").json()["items"]
    assert (row["id"], row["state"], row["outstanding"]) == (case.pk, "open", str(case.outstanding))
    assert finance.get(f"/collections/{case.pk}").json()["project"] == case.project_id
    CollectionCase.objects.filter(pk=case.pk).update(state=CollectionCase.State.CLOSED)
    assert finance.get("/collections/").json()["items"] == []
    assert finance.get("/collections/", state="closed").json()["items"][0]["id"] == case.pk
    assert finance.get(f"/collections/{case.pk}").status_code == 200  # a closed case is still read
    for who in ("sal", "psmanager"):
        assert api(who).get("/collections/").status_code == 403
        assert api(who).get(f"/collections/{case.pk}").status_code == 403
    queue = {q["kind"]: q for q in api("finance").get("/queues").json()}["collections"]
    assert queue["total"] == 0


def test_a_person_whose_role_was_taken_is_told_so(api, people):
    caller = api("tam")  # the token is made while the role is held
    people["tam"].groups.clear()
    for path in ("/queues", "/inbox", "/dashboard", "/search?q=ab"):
        response = caller.client.get(f"/api/v1{path}", HTTP_AUTHORIZATION=f"Bearer {caller.token}")
        assert response.status_code == 403 and "no role" in response.json()["message"], path


def test_the_inbox_costs_the_same_whatever_it_holds(api, people):
    e = reach(people, "deal")
    sal = api("sal")
    sal.get("/inbox")  # the token's first use records when it was used
    notify(recipients=[people["sal"]], kind="mention", text="one", subject=e.opp)
    with CaptureQueriesContext(connection) as one:
        sal.get("/inbox")
    for n in range(30):
        notify(recipients=[people["sal"]], kind="mention", text=f"more {n}", subject=e.opp)
    with CaptureQueriesContext(connection) as many:
        assert len(sal.get("/inbox").json()["items"]) == 25
    assert len(many) == len(one) <= 5, [q["sql"][:80] for q in many]


def test_the_calculator_prices_without_saving_as_the_page_does(api, people):
    from psops.estimating import calculator
    from psops.estimating.models import Rom

    sal = api("sal")
    templates = {t["code"]: t for t in sal.get("/calculator/templates").json()}
    assert set(templates) == set(calculator.TEMPLATES)
    assert "users" in {q["name"] for q in templates["sm-to-saas"]["questions"]}
    priced = sal.ok("/calculator/price", {"template": "sm-to-saas", "answers": {"users": 100, "projects": 500}},
                    status=200)
    expected = calculator.calculate("sm-to-saas", {"users": "100", "projects": "500"},
                                    calculator.tables_from_db()).as_dict()
    assert priced == expected and priced["currency"] == "USD" and priced["low"]
    assert not Rom.objects.exists()
    for body, field in (({"template": "nope"}, "template"), ({"template": "sm-to-saas", "answers": {"users": -1}},
                                                             "users"),
                        ({"template": "sm-to-saas", "answers": {"users": "lots"}}, "users"),
                        ({"template": "sm-to-saas", "answers": {"x" * 61: 1}}, "answers")):
        response = sal.post("/calculator/price", body)
        assert response.status_code == 422 and response.json()["field"] == field, (body, response.json())
    for who in ("finance", "psmanager"):
        refused = api(who).post("/calculator/price", {"template": "sm-to-saas"})
        assert refused.status_code == 403 and "calculator is for" in refused.json()["message"]
