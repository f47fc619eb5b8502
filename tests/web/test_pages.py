"""Every page: anonymous is sent to log in, each role sees its own work, and the cost of a page is fixed."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from psops.workflow.demo import SCENARIOS, ensure_users
from tests.web.test_home_queues import HOME_QUERIES  # the one pin of each home's cost

pytestmark = pytest.mark.django_db

PAGES = ["/", "/search/?q=co", "/inbox/"]


@pytest.fixture
def demo():
    call_command("demo")


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("username, expected", [
    ("sal", ["My deals and their next step", "Build a ROM with the calculator (step 2)",
             "Answer the discovery questions and revise the ROM (step 7)"]),
    ("psmanager", ["Approvals waiting for you", "Projects to staff or advance", "of 3 business days"]),
    ("dircs", ["Approvals waiting for you", "SOWs to review"]),
    ("pse", ["SOWs to write", "My projects and wrap-ups", "Wayne"]),
    ("finance", ["Invoices to review and issue", "Overdue invoices", "Collections", "1-30"]),
    ("admin", ["Set-up", "Price book", "v1 active", "Approval policy", "Holiday calendar"]),
])
def test_each_role_lands_on_its_work_queue(client, demo, username, expected):
    client.login(username=username, password="demo")
    page = client.get("/").content.decode()
    for text in expected:
        assert text in page, text


def test_a_sales_rep_sees_only_deals_they_own(client, demo):
    other = ensure_users()
    from psops.accounts import roles
    from psops.accounts.services import user_ensure

    user_ensure(username="sal9", roles=[roles.SALES_REP], password="demo")
    client.login(username="sal9", password="demo")
    page = client.get("/").content.decode()
    assert "Northwind" not in page and "No open deals" in page
    assert "Northwind" not in client.get("/search/?q=north").content.decode().split("Deals")[-1]
    assert other["sal"].opportunities.exists()


def test_the_home_page_costs_the_same_with_more_deals(client):
    people = ensure_users()
    from psops.crm.models import Account

    def load(round_):
        for name, build in SCENARIOS:
            Account.objects.filter(name=name).update(name=f"{name} {round_}")
            build(people)

    counts = {}
    for username in ("sal", "psmanager", "pse", "finance"):
        client.login(username=username, password="demo")
        counts[username] = []
        for round_ in (1, 2):
            load(f"{username}{round_}")
            with CaptureQueriesContext(connection) as ctx:
                assert client.get("/").status_code == 200
            counts[username].append(len(ctx.captured_queries))
        client.logout()
    assert all(a == b for a, b in counts.values()), counts
    assert {name: pair[0] for name, pair in counts.items()} == {name: HOME_QUERIES[name] for name in counts}


def test_login_is_throttled_after_repeated_failures(client):
    ensure_users()
    for _ in range(5):
        assert client.post("/accounts/login/", {"username": "sal", "password": "wrong"}).status_code == 200
    response = client.post("/accounts/login/", {"username": "sal", "password": "demo"})
    assert response.status_code == 429 and "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_send_a_content_security_policy(client):
    ensure_users()
    client.login(username="sal", password="demo")
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_inbox_marks_notifications_read(client, demo):
    client.login(username="psmanager", password="demo")
    assert "Mark all read" in client.get("/inbox/").content.decode()
    client.post("/inbox/read/")
    from psops.activity.models import Notification

    assert not Notification.objects.filter(recipient__username="psmanager", read_at__isnull=True).exists()


def test_search_and_inbox_cost_a_fixed_number_of_queries(client, demo):
    from psops.activity.services import message_post, thread_for

    client.login(username="sal", password="demo")
    costs = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as search:
            assert client.get("/search/?q=platform").status_code == 200
        with CaptureQueriesContext(connection) as inbox:
            assert client.get("/inbox/").status_code == 200
        costs.append((len(search), len(inbox)))
        from psops.crm.models import Opportunity

        for opp in Opportunity.objects.all():
            message_post(user=opp.owner, thread=thread_for(opp), body="ping @sal")
    assert costs[0] == costs[1] == (SEARCH_QUERIES, INBOX_QUERIES), costs


SEARCH_QUERIES, INBOX_QUERIES = 8, 7  # search: accounts, contacts, the accounts deals are found by, deals
