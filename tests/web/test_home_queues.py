"""Home work queues at a firm's real size: each shows its 25 most urgent rows, the true total and a link to the list
that holds them all, and costs the same number of queries with 100 more rows in every queue."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.approvals.models import ApprovalRequest, ApprovalRequirement
from psops.approvals.selectors import decidable_by
from psops.billing.models import CollectionCase, Invoice
from psops.crm.choices import OPEN_STAGES
from psops.crm.models import Opportunity
from psops.delivery.models import Assignment, Project
from psops.sales.models import Quote, Sow
from psops.workflow.selectors import QUEUE_SIZE, invoices_overdue

pytestmark = pytest.mark.django_db

# Pinned: each role's home with the demo data and every queue longer than it shows (the administrator, a superuser,
# sees the queues of the roles they do not hold as counts: one query each, no rows).
HOME_QUERIES = {"sal": 10, "sa": 8, "tam": 10, "psmanager": 13, "dircs": 9, "pse": 11, "finance": 10, "admin": 24}


@pytest.fixture
def demo():
    call_command("demo")


def clone(obj, **changes):
    """A new, unsaved copy of `obj` with some columns changed (by attname: `owner_id`, not `owner`)."""
    model = type(obj)
    values = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
    values.update(changes)
    return model(**values)


def grow(n: int, tag: str) -> None:
    """`n` more rows in every home queue, written in bulk (what the queues read, not how the services make it): open
    deals for sal, pending ROM approvals, SOWs in review and drafts, projects to advance with pse on them, draft and
    overdue invoices and open collection cases."""
    today = timezone.localdate()
    deal = Opportunity.objects.filter(owner__username="sal", stage="2-scoping").first() or Opportunity.objects.filter(
        owner__username="sal").first()
    Opportunity.objects.bulk_create(clone(deal, name=f"Deal {tag}{i}", stage="2-scoping",
                                          close_date=today + dt.timedelta(days=30 + i)) for i in range(n))
    asked = ApprovalRequest.objects.filter(state="pending").first()
    requests = ApprovalRequest.objects.bulk_create(clone(asked, title=f"Approval {tag}{i}") for i in range(n))
    ApprovalRequirement.objects.bulk_create(clone(req, request_id=r.pk) for r in requests
                                            for req in asked.requirements.all())
    project = Project.objects.select_related("sow__quote").exclude(state="closed").first()
    pse, psmanager = (get_user_model().objects.get(username=name) for name in ("pse", "psmanager"))
    quotes = Quote.objects.bulk_create(clone(project.sow.quote, state="declined") for _ in range(n))
    sows = Sow.objects.bulk_create(clone(project.sow, quote_id=q.pk, author_id=pse.pk,
                                         state="in-review" if i % 2 else "draft") for i, q in enumerate(quotes))
    # A third are delivered and accepted, so their sign-off waits to be sent (the sales rep's and TAM's queue).
    projects = Project.objects.bulk_create(clone(project, sow_id=s.pk, state="completed" if i % 3 == 0 else "created",
                                                 name=f"Project {tag}{i}") for i, s in enumerate(sows))
    Assignment.objects.bulk_create(Assignment(project=p, engineer=pse, assigned_by=psmanager) for p in projects)
    invoice = Invoice.objects.filter(project=project).first() or Invoice.objects.first()
    Invoice.objects.bulk_create(
        clone(invoice, project_id=p.pk, billing_key=key, number=number, state=state, open_balance=balance,
              paid_to_date=0, issue_date=issued, due_date=due)
        for i, p in enumerate(projects)
        for key, number, state, balance, issued, due in [
            ("signature", f"OV-{tag}{i}", "issued", invoice.amount, today - dt.timedelta(days=70),
             today - dt.timedelta(days=40 + i)),
            ("completion", None, "draft", 0, None, None)])
    CollectionCase.objects.bulk_create(CollectionCase(project=p) for p in projects)


def home_cost(client, username: str) -> int:
    client.login(username=username, password="demo")
    client.get("/")  # the first page after logging in also stores the session
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/").status_code == 200
    client.logout()
    return len(ctx.captured_queries)


def test_each_home_costs_the_same_with_100_more_rows_in_every_queue(client, demo):
    grow(30, "a")  # every queue longer than it shows
    before = {username: home_cost(client, username) for username in HOME_QUERIES}
    grow(100, "b")
    after = {username: home_cost(client, username) for username in HOME_QUERIES}
    assert before == after
    assert after == HOME_QUERIES


def section(page: str, title: str) -> str:
    """The HTML of the home section with this title."""
    start = page.index(f"{title} <span")
    end = page.find("<section", start)
    return page[start:end if end != -1 else len(page)]


def rows_in(html: str) -> int:
    return len(re.findall(r"<tr>", html)) - 1  # less the heading row


def test_a_queue_shows_25_rows_the_true_count_and_a_link_to_the_whole_list(client, demo):
    grow(40, "a")
    overdue = Invoice.objects.filter(invoices_overdue()).count()
    assert overdue > QUEUE_SIZE
    client.login(username="finance", password="demo")
    page = client.get("/").content.decode()
    html = section(page, "Overdue invoices")
    assert rows_in(html) == QUEUE_SIZE
    assert f'<span class="count">{QUEUE_SIZE} of {overdue}</span>' in html
    assert f'href="/invoices/?overdue=1&amp;sort=due">See all {overdue}</a>' in html
    # The longest overdue first: the oldest due date heads the queue.
    oldest = Invoice.objects.filter(invoices_overdue()).order_by("due_date", "pk").first()
    assert html.index(str(oldest)) < html.index("</tr>", html.index("<tbody>"))
    # The link leads to the whole queue, in the same order.
    listed = client.get("/invoices/?overdue=1&sort=due").content.decode()
    assert f'<span class="count">{overdue}</span>' in listed and f"1–25 of {overdue}" in listed
    assert listed.index(str(oldest)) < listed.index("</tr>", listed.index("<tbody>"))
    drafts = Invoice.objects.filter(state="draft").count()
    assert f'<span class="count">{QUEUE_SIZE} of {drafts}</span>' in section(page, "Invoices to review and issue")
    assert f'<span class="count">{drafts}</span>' in client.get("/invoices/?state=draft&sort=created").content.decode()
    # Collections link to their list, the longest overdue first there too.
    cases = CollectionCase.objects.filter(state="open").count()
    collections = section(page, "Collections")
    assert f"{QUEUE_SIZE} of {cases}" in collections
    assert f'href="/collections/?sort=due">See all {cases}</a>' in collections
    listed = client.get("/collections/?sort=due").content.decode()
    assert f'<span class="count">{cases}</span>' in listed and f"1–25 of {cases}" in listed
    first_case = CollectionCase.objects.filter(state="open").order_by("oldest_due", "pk").first()
    assert listed.split("<tbody>", 1)[1].split("</tr>", 1)[0].count(first_case.project.name) == 1


@pytest.mark.parametrize("username, title, count_of, url", [
    ("psmanager", "Approvals waiting for you",
     lambda u: ApprovalRequest.objects.filter(decidable_by(u)).count(), "/approvals/?waiting=1&sort=submitted"),
    ("psmanager", "Projects to staff or advance",
     lambda u: Project.objects.filter(state__in=["created", "staffed", "kicked-off", "completed", "wrapped-up",
                                                 "on-hold"]).count(), "/projects/?advance=1&sort=created"),
    ("pse", "My projects and wrap-ups",
     lambda u: Project.objects.filter(assignments__engineer=u).exclude(state__in=["closed", "cancelled"]).count(),
     "/projects/?mine=1&sort=created"),
    ("sal", "My deals and their next step",
     lambda u: Opportunity.objects.filter(owner=u, stage__in=OPEN_STAGES).count(), "/deals/?mine=1&sort=close"),
])
def test_every_linked_queue_counts_what_its_list_shows(client, demo, username, title, count_of, url):
    grow(30, "a")
    user = get_user_model().objects.get(username=username)
    total = count_of(user)
    assert total > QUEUE_SIZE
    client.login(username=username, password="demo")
    html = section(client.get("/").content.decode(), title)
    assert f'<span class="count">{QUEUE_SIZE} of {total}</span>' in html
    assert f'href="{url.replace("&", "&amp;")}">See all {total}</a>' in html
    listed = client.get(url).content.decode()
    assert f'<span class="count">{total}</span>' in listed


def test_a_short_queue_shows_its_count_and_no_link(client, demo):
    client.login(username="psmanager", password="demo")
    html = section(client.get("/").content.decode(), "Approvals waiting for you")
    waiting = ApprovalRequest.objects.filter(decidable_by(get_user_model().objects.get(username="psmanager"))).count()
    assert 0 < waiting < QUEUE_SIZE
    assert f'<span class="count">{waiting}</span>' in html and "See all" not in html


def test_the_administrator_sees_other_roles_queues_as_counts_with_links(client, demo):
    """The superuser holds the administrator role only: set-up in rows, every other queue a count and a link."""
    grow(30, "overview")
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get("/").content.decode()
    assert rows_in(section(page, "Set-up")) == 6
    overdue = Invoice.objects.filter(invoices_overdue()).count()
    cases = CollectionCase.objects.filter(state="open").count()
    for title, link in (("Overdue invoices", f'href="/invoices/?overdue=1&amp;sort=due">See all {overdue}</a>'),
                        ("Collections", f'href="/collections/?sort=due">See all {cases}</a>')):
        html = section(page, title)
        assert link in html and "<tr>" not in html, title
    # A queue with no list page says how many wait and who works them; an empty one says so.
    review = Sow.objects.filter(state=Sow.State.IN_REVIEW).count()
    assert review and (f"{review} waiting: the people who hold the role work them from their home"
                       in section(page, "SOWs to review"))
    to_write = section(page, "SOWs to write")
    assert '<span class="count">0</span>' in to_write and "No accepted quote waits for a SOW." in to_write


def test_a_queue_past_the_count_cap_says_so_and_its_list_too(client, demo, monkeypatch):
    """Queues and lists count up to psops.core.counting.COUNT_CAP (10,000; 30 here) and say "30+" past it."""
    from psops.core import counting

    grow(40, "capped")
    overdue = Invoice.objects.filter(invoices_overdue()).count()
    assert overdue > 30
    monkeypatch.setattr(counting, "COUNT_CAP", 30)
    client.login(username="finance", password="demo")
    html = section(client.get("/").content.decode(), "Overdue invoices")
    assert f'<span class="count">{QUEUE_SIZE} of 30+</span>' in html
    assert 'href="/invoices/?overdue=1&amp;sort=due">See all 30+</a>' in html
    listed = client.get("/invoices/?overdue=1&sort=due").content.decode()
    assert '<span class="count">30+</span>' in listed and "filter to narrow them" in listed


def test_the_deal_team_has_queues_of_its_own(client, demo):
    """The solutions architect and the TAM named on a deal find its work on their home; the TAM and the sales rep
    are prompted to send a sign-off once the customer accepts the work, and leave it once sent."""
    from psops.delivery import services as delivery

    client.login(username="sa", password="demo")
    scoped = section(client.get("/").content.decode(), "Deals you scope")
    assert "Northwind platform" in scoped and "Build a ROM with the calculator (step 2)" in scoped
    hooli = Project.objects.get(ps_opportunity__parent__account__name="Hooli")
    assert hooli.state == Project.State.COMPLETED
    for username in ("tam", "sal"):
        client.login(username=username, password="demo")
        page = client.get("/").content.decode()
        prompts = section(page, "Sign-offs to send")
        assert hooli.name in prompts and "Run the financial wrap-up" in prompts, username
        assert "Acme" not in prompts  # signed off already
    tam = get_user_model().objects.get(username="tam")
    delivery.sign_off_send(user=tam, project=hooli, contact=hooli.ps_opportunity.parent.account.contacts.first())
    client.login(username="tam", password="demo")
    assert hooli.name not in section(client.get("/").content.decode(), "Sign-offs to send")
    # Somebody named on no deal is told how they get one.
    Opportunity.objects.update(solutions_architect=None)
    client.login(username="sa", password="demo")
    scoped = section(client.get("/").content.decode(), "Deals you scope")
    assert "A sales rep names you on the deal&#x27;s page" in scoped


def test_the_ps_manager_is_prompted_to_close_a_signed_off_project(client, demo):
    client.login(username="psmanager", password="demo")
    html = section(client.get("/").content.decode(), "Projects to staff or advance")
    acme = Project.objects.get(ps_opportunity__parent__account__name="Acme Corp")
    assert acme.state == Project.State.WRAPPED_UP
    row = html[html.index(acme.name):].split("</tr>", 1)[0]
    assert "Close the project (step 16)" in row
