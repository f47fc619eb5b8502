"""The list pages (deals, approvals, projects, invoices, collections): who sees them and which rows, filters, sorting,
pages, the empty state, and a cost that stays the same with more data."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.crm import services as crm
from psops.crm.models import Account, Opportunity
from psops.workflow.demo import SCENARIOS, ensure_users

pytestmark = pytest.mark.django_db

LISTS = ["/deals/", "/approvals/", "/projects/", "/invoices/", "/collections/"]


@pytest.fixture
def demo():
    call_command("demo")


def page_of(client, username, url):
    """The page as `username` sees it: a demo user, or else a new sales rep who owns no deal."""
    user = ensure_users().get(username) or user_ensure(username=username, roles=[roles.SALES_REP])
    client.force_login(user)
    return client.get(url)


def rows_of(response) -> str:
    """The table body of a list page (what the rows say, without the filters or the navigation)."""
    html = response.content.decode()
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""


@pytest.mark.parametrize("url", LISTS)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("username, url", [
    ("finance", "/approvals/"), ("pse", "/approvals/"),
    ("sa", "/projects/"),
    ("sal", "/invoices/"), ("psmanager", "/invoices/"), ("admin-role", "/invoices/"),
    ("sal", "/collections/"), ("pse", "/collections/"),
])
def test_the_wrong_role_is_refused(client, username, url):
    ensure_users()
    if username == "admin-role":  # an administrator who is not a superuser does not read Finance's invoices
        client.force_login(user_ensure(username="admin2", roles=[roles.ADMINISTRATOR]))
    else:
        client.force_login(ensure_users()[username])
    assert client.get(url).status_code == 403


def test_someone_without_any_role_sees_no_deals(client):
    client.force_login(user_ensure(username="nobody", roles=[]))
    assert client.get("/deals/").status_code == 403


# One demo load serves every case of a table (loading it costs seconds).
ROWS_SEEN = [
    ("sal", "/deals/", ["Northwind platform", "Globex platform", "USD 52,000.00", "Estimate"]),
    ("psmanager", "/deals/", ["Wayne platform", "USD 48,300.00"]),
    ("psmanager", "/approvals/", ["(price-book) v1 for Globex", "of 3 business days", "took 0 business days",
                                  "Dana Director: Needs discovery"]),
    ("sal", "/approvals/", ["Globex", "Initech"]),
    ("psmanager", "/projects/", ["Wayne Enterprises", "Acme Corp", "In delivery", "Eli Engineer"]),
    ("pse", "/projects/", ["Wayne Enterprises", "Acme Corp"]),
    ("sal", "/projects/", ["Wayne Enterprises"]),
    ("finance", "/projects/", ["Wayne Enterprises"]),
    # (Invoice numbers come from a database sequence, so the rows are told apart by their accounts.)
    ("finance", "/invoices/", [">INV-0", "Acme Corp", "Wayne Enterprises", "1-30 days late", "USD 52,000.00"]),
    ("controller", "/invoices/", ["Acme Corp", "Wayne Enterprises"]),
    ("admin", "/invoices/", ["Acme Corp", "Wayne Enterprises"]),
]


def test_each_role_sees_its_rows(client, demo):
    for username, url, expected in ROWS_SEEN:
        response = page_of(client, username, url)
        assert response.status_code == 200, (username, url)
        body = rows_of(response)
        for text in expected:
            assert text in body, (username, url, text)


def test_rows_link_to_their_records(client, demo):
    body = rows_of(page_of(client, "finance", "/invoices/"))
    assert 'href="/invoices/' in body
    body = rows_of(page_of(client, "psmanager", "/approvals/"))
    assert 'href="/approvals/' in body
    assert 'href="/opportunities/' in rows_of(page_of(client, "sal", "/deals/"))
    assert 'href="/projects/' in rows_of(page_of(client, "pse", "/projects/"))


def test_another_sales_rep_sees_none_of_these_rows(client, demo):
    for url in ["/deals/", "/approvals/", "/projects/"]:
        response = page_of(client, "sal9", url)
        assert response.status_code == 200, url
        assert rows_of(response) == "", url
        assert "Northwind" not in response.content.decode() and "Globex" not in response.content.decode(), url


def test_an_engineer_sees_only_the_projects_they_are_on(client, demo):
    client.force_login(user_ensure(username="pse9", roles=[roles.PS_ENGINEER]))
    response = client.get("/projects/")
    assert response.status_code == 200 and rows_of(response) == ""
    assert "No projects you can see yet" in response.content.decode()


FILTERED = [
    ("sal", "/deals/?q=globex", ["Globex platform"], ["Northwind platform"]),
    ("sal", "/deals/?segment=smb", ["Initech platform"], ["Globex platform"]),
    ("sal", "/deals/?stage=2-scoping", ["Globex platform", "Northwind platform"], []),
    ("psmanager", "/approvals/?state=pending", ["Globex"], ["Initech", "Acme"]),
    ("psmanager", "/approvals/?state=needs-discovery&kind=rom", ["Initech"], ["Globex"]),
    ("psmanager", "/projects/?state=in-delivery", ["Wayne Enterprises"], ["Acme Corp"]),
    ("psmanager", "/projects/?state=wrapped-up", ["Acme Corp"], ["Wayne Enterprises"]),
    ("finance", "/invoices/?state=issued", ["Acme Corp", "Wayne Enterprises"], []),
]


def test_filters_narrow_the_rows(client, demo):
    for username, url, shown, hidden in FILTERED:
        body = rows_of(page_of(client, username, url))
        for text in shown:
            assert text in body, (url, text)
        for text in hidden:
            assert text not in body, (url, text)


def test_nothing_matching_says_how_to_get_rows_back(client, demo):
    response = page_of(client, "finance", "/invoices/?state=void")
    page = response.content.decode()
    assert rows_of(response) == "" and "Nothing matches these filters" in page and "Clear the filters" in page


def test_a_bad_filter_is_explained_and_ignored(client, demo):
    response = page_of(client, "sal", "/deals/?stage=nonsense")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in page and "Northwind platform" in rows_of(response)


def test_empty_lists_say_what_to_do_next(client):
    people = ensure_users()
    for username, url, text in [("sal", "/deals/", "build its ROM with the calculator"),
                                ("psmanager", "/approvals/", "Send for approval"),
                                ("psmanager", "/projects/", "Closed Won"),
                                ("finance", "/invoices/", "review and issue it")]:
        client.force_login(people[username])
        assert text in client.get(url).content.decode(), (url, text)


def test_sorting_follows_a_whitelisted_column_and_ignores_others(client, demo):
    body = rows_of(page_of(client, "sal", "/deals/?sort=-ps"))
    # PS totals: Initech 89,700 > Acme 52,000 > Wayne 48,300 > Stark 40,000 > Umbrella 19,900 > Globex 15,400 > 0.
    order = [body.index(name) for name in ("Initech", "Acme", "Wayne", "Stark", "Umbrella", "Globex", "Northwind")]
    assert order == sorted(order)
    body = rows_of(page_of(client, "sal", "/deals/?sort=account"))
    order = [body.index(name) for name in ("Acme", "Globex", "Initech", "Northwind", "Stark", "Umbrella", "Wayne")]
    assert order == sorted(order)
    response = page_of(client, "sal", "/deals/?sort=owner__password")  # not a column: the default order
    assert response.status_code == 200 and "Northwind" in rows_of(response)
    page = response.content.decode()
    assert 'aria-sort="ascending"' in page  # the default column says it sorts


def test_sorted_headings_keep_the_filters_and_flip_the_direction(client, demo):
    page = page_of(client, "sal", "/deals/?segment=large&sort=account").content.decode()
    assert 'href="?segment=large&amp;sort=-account"' in page
    assert 'href="?segment=large&amp;sort=ps"' in page


def test_twenty_five_rows_a_page_and_the_pager_keeps_the_filters(client):
    people = ensure_users()
    account = crm.account_create(user=people["sal"], name="Paging Ltd")
    for n in range(30):
        crm.opportunity_create(user=people["sal"], account=account, name=f"Deal {n:02d}", segment="smb",
                               close_date=timezone.localdate() + dt.timedelta(days=n + 1), amount="1000")
    client.force_login(people["sal"])
    first = client.get("/deals/?segment=smb")
    assert rows_of(first).count("<tr>") == 25
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?segment=smb&amp;page=2"' in first.content.decode()
    second = client.get("/deals/?segment=smb&page=2")
    assert rows_of(second).count("<tr>") == 5 and "Deal 29" in rows_of(second)
    assert Opportunity.objects.filter(account=account).count() == 30


# Pinned: what each list costs, whatever the number of rows (session, user, roles, unread count, then the page's own
# reads: the count and the rows, plus prefetches and the holiday calendar where the page needs them).
LIST_QUERIES = {  # each list reads its page's keys, then those rows (web.views.common.CappedPaginator.page)
    ("sal", "/deals/"): 7,
    ("psmanager", "/deals/"): 7,
    ("psmanager", "/approvals/"): 10,
    ("sal", "/approvals/"): 10,
    ("psmanager", "/projects/"): 8,
    ("pse", "/projects/"): 8,
    ("sal", "/projects/"): 8,
    ("finance", "/invoices/"): 7,
    ("finance", "/collections/"): 7,
    ("controller", "/collections/"): 9,  # + the permission tables, asked why the reminder run is not offered
}


def test_each_list_costs_the_same_with_more_data(client):
    people = ensure_users()

    def load(round_):
        for name, build in SCENARIOS:
            Account.objects.filter(name=name).update(name=f"{name} {round_}")
            build(people)

    counts: dict = {key: [] for key in LIST_QUERIES}
    for round_ in (1, 2):
        load(round_)
        for username, url in LIST_QUERIES:
            client.force_login(people[username])
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url)
            assert response.status_code == 200 and "<tbody>" in response.content.decode(), (username, url)
            counts[(username, url)].append(len(ctx.captured_queries))
    assert counts == {key: [n, n] for key, n in LIST_QUERIES.items()}
