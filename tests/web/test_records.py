"""Record pages: who sees them, which acts they offer, and what an act does (or refuses) through the browser's door."""

import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.activity.models import TimelineEvent
from psops.approvals.models import ApprovalRequest
from psops.billing.models import Invoice
from psops.crm.models import Opportunity, PSOpportunity
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow

pytestmark = pytest.mark.django_db

MODELS = [Opportunity, PSOpportunity, Rom, ApprovalRequest, Quote, Sow, Project, Invoice]
# Pinned: the cost of each record page (as the administrator, who is offered the most acts). The project page asks
# each act's own check, as its service does; the invoice page reads the collection case and write-offs once; every
# page counts its timeline's and its thread's pages (one query each, a prefetch fewer). A page with documents reads
# them in one query (newest 12), and the project page reads which sign-off file the customer signed in one more; the
# invoice page lists the customer's contacts to send it to. The project page reads its collection's latest actions
# (one prefetch); the deal's page lists the solutions architects and TAMs its team form offers (two).
RECORD_PAGE_QUERIES = {"Opportunity": 13, "PSOpportunity": 13, "Rom": 10, "ApprovalRequest": 16, "Quote": 12,
                       "Sow": 14, "Project": 30, "Invoice": 15}


@pytest.fixture
def demo():
    call_command("demo")


def url_of(obj):
    return reverse(f"web:{obj._meta.model_name}", args=[obj.pk])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_record_pages_for_anonymous_outsiders_and_insiders(client, demo, model):
    obj = model.objects.first()
    assert client.get(url_of(obj)).status_code == 302  # anonymous: log in first
    user_ensure(username="outsider", roles=[roles.SALES_REP], password="demo")
    client.login(username="outsider", password="demo")
    assert client.get(url_of(obj)).status_code == 404  # another rep's deal: nothing to see, not even that it exists
    client.logout()
    client.login(username="sal", password="demo")
    page = client.get(url_of(obj))
    assert page.status_code == 200 and "Timeline" in page.content.decode()


def test_unknown_record_is_not_found(client, demo):
    client.login(username="sal", password="demo")
    assert client.get("/opportunities/999999/").status_code == 404
    assert client.get("/r/nosuchthing/1/act/go/").status_code in (404, 405)


@pytest.mark.parametrize("username, shown, hidden", [
    ("psmanager", ["Assign engineer", "Put on hold", "Ask the customer to accept completion"], ["Issue"]),
    ("pse", ["Report progress", "Log time", "Ask the customer to accept completion"], ["Assign engineer"]),
    ("sal", [], ["Assign engineer", "Report progress"]),
])
def test_project_page_offers_exactly_the_acts_of_the_role(client, demo, username, shown, hidden):
    project = Project.objects.get(state="in-delivery")
    client.login(username=username, password="demo")
    page = client.get(url_of(project)).content.decode()
    for label in shown:
        assert label in page, label
    for label in hidden:
        assert f">{label}<" not in page, label


def test_an_approver_approves_from_the_page(client, demo):
    request = ApprovalRequest.objects.get(state="pending")
    client.login(username="dircs", password="demo")
    response = client.post(reverse("web:act", args=["approvalrequest", request.pk, "approve"]),
                           {"approve-comment": "Fine"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == "approved"
    assert Rom.objects.get(versions=request.subject_id).status == "approved"


def test_an_act_not_offered_to_the_user_is_refused_and_changes_nothing(client, demo):
    request = ApprovalRequest.objects.get(state="pending")
    events = TimelineEvent.objects.count()
    client.login(username="sal", password="demo")  # the submitter may not approve
    response = client.post(reverse("web:act", args=["approvalrequest", request.pk, "approve"]), {})
    assert response.status_code == 403
    assert "Nobody approves their own request" in response.content.decode()
    request.refresh_from_db()
    assert request.state == "pending" and TimelineEvent.objects.count() == events


def test_a_form_error_shows_beside_its_field_and_changes_nothing(client, demo):
    project = Project.objects.get(state="in-delivery")
    client.login(username="pse", password="demo")
    events = TimelineEvent.objects.count()
    response = client.post(reverse("web:act", args=["project", project.pk, "progress"]), {"progress-percent": "150"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_progress-percent_error"' in page
    # Every id a field says describes it (its help and its error) is on the page, so a screen reader reads them.
    described = re.findall(r'aria-describedby="([^"]+)"', page)
    assert any("id_progress-percent_error" in d for d in described)
    for ids in described:
        for one in ids.split():
            assert f'id="{one}"' in page, one
    assert TimelineEvent.objects.count() == events


def test_a_service_refusal_shows_its_reason(client, demo):
    invoice = Invoice.objects.filter(state="issued").first()
    client.login(username="finance", password="demo")
    response = client.post(reverse("web:act", args=["invoice", invoice.pk, "payment"]),
                           {"payment-amount": "99999999", "payment-received_on": "2026-11-20"})
    assert response.status_code == 400
    assert "is more than that" in response.content.decode()
    assert not invoice.payments.exists()


def test_posting_to_the_thread_notifies_mentions(client, demo):
    opp = Opportunity.objects.first()
    client.login(username="sal", password="demo")
    client.post(reverse("web:message", args=["opportunity", opp.pk]), {"body": "Please look @psmanager",
                                                                        "kind": "comment"})
    from psops.activity.models import Notification

    assert Notification.objects.filter(recipient__username="psmanager", kind="mention").exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_record_page_cost_does_not_grow_with_history(client, demo, model):
    from psops.activity.services import message_post, thread_for

    obj = model.objects.first()
    client.login(username="admin", password="demo")
    with CaptureQueriesContext(connection) as before:
        client.get(url_of(obj))
    from psops.web.records import KINDS

    deal = KINDS[model._meta.model_name].deal_of(obj)
    admin = deal.owner
    for i in range(5):
        message_post(user=admin, thread=thread_for(deal), body=f"note {i} @sa")
    with CaptureQueriesContext(connection) as after:
        client.get(url_of(obj))
    assert len(before) == len(after) == RECORD_PAGE_QUERIES[model.__name__]


def test_the_sales_rep_sends_a_fresh_quote_link_from_the_page(client, demo, django_capture_on_commit_callbacks):
    from django.core import mail

    from psops.links.models import CustomerLink

    quote = Quote.objects.get(state="sent")
    client.login(username="sal", password="demo")
    assert "Send the link again" in client.get(url_of(quote)).content.decode()
    before = CustomerLink.objects.filter(revoked_at__isnull=False).count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:act", args=["quote", quote.pk, "resend"]))
    assert response.status_code == 302
    assert CustomerLink.objects.filter(revoked_at__isnull=False).count() == before + 1
    assert len(mail.outbox) == 1 and quote.sent_to.email in mail.outbox[0].to


def test_a_sales_rep_creates_a_deal_with_a_new_account_and_contact(client):
    from psops.workflow.demo import ensure_users

    ensure_users()
    client.login(username="sal", password="demo")
    assert "New deal" in client.get("/deals/").content.decode()
    form = {"account_name": "Hooli", "contact_name": "Gavin B", "contact_email": "gavin@hooli.example",
            "contact_title": "CEO", "name": "Hooli rollout", "segment": "large", "amount": "120000",
            "currency": "USD", "close_date": "2027-03-31"}
    response = client.post("/deals/new/", form)
    opp = Opportunity.objects.get(name="Hooli rollout")
    assert response.status_code == 302 and response.url == url_of(opp)
    assert opp.owner.username == "sal" and opp.account.contacts.get().email == "gavin@hooli.example"
    # The same account name again: refused beside the field, nothing new.
    again = client.post("/deals/new/", {**form, "name": "Hooli second"})
    assert again.status_code == 400 and "exists already" in again.content.decode()
    assert not Opportunity.objects.filter(name="Hooli second").exists()
    # Not a sales rep: no deal creation.
    client.logout()
    client.login(username="pse", password="demo")
    assert client.get("/deals/new/").status_code == 403


def test_replying_to_a_discovery_question_in_the_thread(client, demo):
    from psops.activity.models import Message

    question = Message.objects.filter(kind="question").first()
    opp = question.thread.root
    client.login(username="sal", password="demo")
    page = client.get(url_of(opp)).content.decode()
    assert f'name="parent" value="{question.pk}"' in page
    response = client.post(reverse("web:message", args=["opportunity", opp.pk]),
                           {"body": "Geo can wait for phase two. @dircs", "kind": "answer", "parent": question.pk})
    assert response.status_code == 302
    reply = Message.objects.get(parent=question)
    assert reply.kind == "answer" and reply.author.username == "sal"
    assert "in reply to" in client.get(url_of(opp)).content.decode()
    # A parent from another engagement's thread is refused and nothing is posted.
    other = Opportunity.objects.exclude(pk=opp.pk).first()
    count = Message.objects.count()
    client.post(reverse("web:message", args=["opportunity", other.pk]), {"body": "x", "parent": question.pk})
    assert Message.objects.count() == count


def test_the_project_page_shows_its_collection_and_latest_reminder(client, demo):
    acme = Project.objects.get(ps_opportunity__parent__account__name="Acme Corp")
    client.login(username="psmanager", password="demo")
    page = client.get(url_of(acme)).content.decode()
    collection = page.split("<dt>Collection</dt><dd>", 1)[1].split("</dd>", 1)[0]
    assert "Open" in collection and "Reminder" in collection and "First reminder after 20 days overdue" in collection
    wayne = Project.objects.get(ps_opportunity__parent__account__name="Wayne Enterprises")
    page = client.get(url_of(wayne)).content.decode()
    assert "not open: Finance takes the balance over at the financial wrap-up" in page
