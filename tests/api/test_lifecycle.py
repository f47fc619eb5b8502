"""The whole process, driven by scripts through the API: every step a person of the firm takes is an API call made
with that person's own token; the customer answers through the link e-mailed to them, as a customer does."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from psops.billing.models import Invoice
from psops.crm.models import Opportunity, PSOpportunity
from psops.delivery.models import Project
from tests.portal.conftest import IP, shown_fields

pytestmark = pytest.mark.django_db

SIGN = {"name": "Casey Customer", "title": "VP Engineering"}
LINK = re.compile(r"https?://[^/\s]+(/c/[^/\s]+/)")  # a send made through the API links to the host it was asked on


def link_path(contact) -> str:
    paths = [LINK.search(m.body).group(1) for m in mail.outbox if contact.email in m.to and LINK.search(m.body)]
    assert paths, f"no customer link was e-mailed to {contact.email}"
    return paths[-1]


def answer_link(client, contact, action: str, **fields) -> None:
    """The customer opens the latest link e-mailed to them and answers, sending back what the page showed."""
    path = link_path(contact)
    response = client.post(path, {"action": action, **shown_fields(client, path), **fields}, REMOTE_ADDR=IP)
    assert response.status_code == 200, response.content.decode()[:500]


def test_a_deal_goes_from_scoping_to_paid_and_closed_through_the_api(api, people, client,
                                                                   django_capture_on_commit_callbacks):
    sal, sa, manager, pse, finance = api("sal"), api("sa"), api("psmanager"), api("pse"), api("finance")
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        # 1. The sales rep starts the deal, with its account, first contact and SA.
        deal = sal.ok("/opportunities/", {
            "account_name": "Initrode", "contact_name": "Casey Customer", "contact_email": "casey@initrode.example",
            "name": "Initrode platform", "segment": "large", "amount": "250000.00", "currency": "USD",
            "close_date": (today + dt.timedelta(days=60)).isoformat(), "solutions_architect": people["sa"].pk},
            status=201)
        deal_id = deal["id"]
        contact = Opportunity.objects.get(pk=deal_id).account.contacts.get()
        sal.ok(f"/opportunities/{deal_id}/stage", {"stage": "2-scoping"})
        # 2. The SA prices the ROM with the calculator.
        rom = sa.ok("/roms/", {"opportunity": deal_id, "template": "sm-to-saas",
                               "answers": {"users": 100, "projects": 500, "large_repos": 0}}, status=201)
        # 3-5. The sales rep opens the PS opportunity from the ROM and sends the ROM for approval.
        ps = sal.ok(f"/roms/{rom['id']}/open-ps", {"name": "Initrode migration"}, status=201)
        assert ps["kind"] == "psopportunity"
        sal.ok(f"/roms/{rom['id']}/submit")
        waiting = manager.get("/approvals/", state="pending").json()["items"]
        version = sal.get(f"/roms/{rom['id']}").json()["current"]  # a ROM's approval is of its current version
        assert [(r["kind"], r["subject_id"]) for r in waiting] == [("rom", version)]
        # 6. The PS manager approves it.
        manager.ok(f"/approvals/{waiting[0]['id']}/approve", {"comment": "Fits the usual shape."})
        # 7-8. The quote is built from the approved ROM, submitted (no approval needed) and sent.
        quote = sal.ok(f"/ps-opportunities/{ps['id']}/quote", {
            "valid_until": (today + dt.timedelta(days=30)).isoformat(), "discount_percent": "0",
            "billing_terms": "full-on-signature"}, status=201)
        submitted = sal.ok(f"/quotes/{quote['id']}/submit")
        assert submitted["message"].startswith("Approved at once")
        sal.ok(f"/quotes/{quote['id']}/send", {"contact": contact.pk})
    # 9. The customer accepts the quote on their link.
    with django_capture_on_commit_callbacks(execute=True):
        answer_link(client, contact, "accept")
    assert PSOpportunity.objects.get(pk=ps["id"]).stage == "quote-accepted"
    with django_capture_on_commit_callbacks(execute=True):
        # 10. The engineer writes the SOW, the PS manager approves it, and it goes to the customer.
        sow = pse.ok(f"/quotes/{quote['id']}/sow", status=201)
        pse.ok(f"/sows/{sow['id']}/review")
        manager.ok(f"/sows/{sow['id']}/approve")
        pse.ok(f"/sows/{sow['id']}/send", {"contact": contact.pk})
    # 11. The customer signs the SOW.
    with django_capture_on_commit_callbacks(execute=True):
        answer_link(client, contact, "sign", **SIGN)
    with django_capture_on_commit_callbacks(execute=True):
        # 12. Closed won: the project is created, and the invoice the terms call for is drafted and issued.
        project = sal.ok(f"/ps-opportunities/{ps['id']}/close-won", status=201)
        assert project["kind"] == "project"
        draft = finance.get("/invoices/", state="draft").json()["items"]
        assert len(draft) == 1 and draft[0]["project"] == project["id"]
        finance.ok(f"/invoices/{draft[0]['id']}/issue")
        # 13. Delivery: staffed, kicked off, time logged and approved, completion asked.
        pid = project["id"]
        manager.ok(f"/projects/{pid}/assign", {"engineer": people["pse"].pk})
        manager.ok(f"/projects/{pid}/kick-off", {"kickoff_date": today.isoformat(), "budget_hours": "120"})
        manager.ok(f"/projects/{pid}/deliver")
        pse.ok(f"/projects/{pid}/time", {"date": today.isoformat(), "hours": "7.5", "note": "Cut-over"})
        monday = today - dt.timedelta(days=today.weekday())
        approved = manager.ok("/time/approve", {"engineer": people["pse"].pk, "week": monday.isoformat()})
        assert approved["approved"] == 1
        pse.ok(f"/projects/{pid}/ask-acceptance", {"contact": contact.pk})
    # 14. The customer accepts the completion.
    with django_capture_on_commit_callbacks(execute=True):
        answer_link(client, contact, "accept", **SIGN)
    with django_capture_on_commit_callbacks(execute=True):
        # 15. Financial wrap-up, and the sign-off sent by the sales rep.
        pse.ok(f"/projects/{pid}/wrap-up")
        for code in ("summary-sent", "notified", "documents"):
            pse.ok(f"/projects/{pid}/wrap-item", {"code": code})
        pse.ok(f"/projects/{pid}/wrap-item", {"code": "hours-cost", "actual_hours": "100", "actual_cost": "15000"})
        sal.ok(f"/projects/{pid}/sign-off", {"contact": contact.pk})
        pse.ok(f"/projects/{pid}/wrap-finish")
    with django_capture_on_commit_callbacks(execute=True):
        answer_link(client, contact, "sign", **SIGN)
    # 16. Collections: the invoice is paid, and the PS manager closes the project.
    invoice = Invoice.objects.get(project_id=pid)
    finance.ok(f"/invoices/{invoice.pk}/payment", {"amount": str(invoice.amount), "received_on": today.isoformat(),
                                                   "reference": "WIRE-1"})
    assert finance.get(f"/invoices/{invoice.pk}").json()["state"] == "paid"
    manager.ok(f"/projects/{pid}/close")
    assert Project.objects.get(pk=pid).state == "closed"
    read = manager.get(f"/projects/{pid}").json()
    assert read["state"] == "closed" and re.fullmatch(r"\d+\.\d{2}", read["budget_hours"] or "0.00")

