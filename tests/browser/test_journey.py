"""The 16 steps in a real browser, across the roles and the customer's links, with screenshots of each stop.

Every click goes through the pages a person uses; the customer acts only through the links e-mailed to them.
"""

import re

import pytest
from django.core import mail

from psops.approvals.models import ApprovalRequest
from psops.billing.models import CollectionCase, Invoice
from psops.crm.models import Opportunity, PSOpportunity
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://\S+?(/c/[^\s]+)")


def act(person, label, **fields):
    """Press an act's button on a record page; with fields, open its form, fill it and submit."""
    page = person.page
    box = page.locator("details", has=page.locator("summary", has_text=label)).first
    if box.count():
        box.locator("summary").click()
        for name, value in fields.items():
            field = box.locator(f"[name$='-{name}']").first
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)  # matches an option's value or its label
            else:
                field.fill(value)
        with page.expect_navigation():
            box.locator("button[type=submit]").click()
    else:
        with page.expect_navigation():
            page.locator("form button[type=submit]", has_text=label).first.click()
    return page


def press(person, selector):
    """Click something that submits a form or follows a link, and wait for the next page."""
    with person.page.expect_navigation():
        person.page.click(selector)
    return person.page


def customer_link(to: str) -> str:
    """The path of the newest link e-mailed to this customer."""
    for message in reversed(mail.outbox):
        if to in message.to:
            found = LINK.search(message.body)
            if found:
                return found.group(1)
    raise AssertionError(f"no link was e-mailed to {to}")


def test_a_deal_from_scoping_to_collections_in_the_browser(visit):
    opp = Opportunity.objects.get(account__name="Northwind Traders")
    contact = opp.account.contacts.get()
    deal = f"/opportunities/{opp.pk}/"

    sal, sa, psm, pse, fin = (visit(u).login(u) for u in ("sal", "sa", "psmanager", "pse", "finance"))
    customer = visit("customer")

    # Step 1: the SAL and the SA discuss services in the deal's thread.
    sa.go(deal)
    sa.page.fill("#id_body", "Scoping call: 400 users, 900 projects, 2 big repos. @sal")
    press(sa, "button:has-text('Post')")
    assert "Scoping call: 400 users" in sa.page.content()

    # Step 2: the SA prices the ROM in the calculator; the range follows the answers as they are typed.
    sa.go(f"/calculator/?opportunity={opp.pk}&template=sm-to-saas")
    sa.page.fill("#id_a-users", "400")
    sa.page.fill("#id_a-projects", "900")
    sa.page.fill("#id_a-large_repos", "2")
    sa.page.wait_for_selector("text=USD 42,000.00")  # 30,000-40,000 band + one block of 12,000
    sa.shot("calculator")
    press(sa, "button[name=save]")
    rom = Rom.objects.get(opportunity=opp)
    assert (rom.current.low, rom.current.high) == (42000, 52000)

    # Step 3: the SAL sends it for approval.
    sal.go(f"/roms/{rom.pk}/")
    act(sal, "Send for approval")
    # Steps 4-5: the SAL creates the PS opportunity; its PS amount starts as the ROM's high value.
    act(sal, "Create the PS opportunity", name="Northwind SaaS migration")
    ps = PSOpportunity.objects.get(parent=opp)
    assert ps.ps_amount == 52000
    sal.shot("rom")

    # Step 6: the PS manager finds it in their queue and asks for discovery.
    psm.go("/")
    press(psm, f"text={rom} v1")
    psm.shot("approval")
    act(psm, "Needs discovery", questions="Are the two big repositories over 5 GB each?")
    rom.refresh_from_db()
    assert rom.status == "needs-discovery"

    # Step 7: the SA answers in the thread and revises the ROM; the SAL resubmits; it is approved (TA too).
    sa.go(f"/roms/{rom.pk}/")
    sa.page.fill("#id_body", "Only one of them is; revised. @psmanager")
    press(sa, "button:has-text('Post')")
    sa.go(f"/calculator/?rom={rom.pk}")
    sa.page.fill("#id_a-users", "400")
    sa.page.fill("#id_a-projects", "900")
    sa.page.fill("#id_a-large_repos", "1")
    press(sa, "button[name=save]")
    sal.go(f"/roms/{rom.pk}/")
    act(sal, "Send for approval")
    request = ApprovalRequest.objects.filter(state="pending").latest("submitted_at")
    psm.go(f"/approvals/{request.pk}/")
    act(psm, "Approve", comment="Clear now.")
    ta = visit("ta").login("ta")
    ta.go(f"/approvals/{request.pk}/")
    act(ta, "Approve")
    ps.refresh_from_db()
    assert ps.stage == "approved" and ps.ps_amount == 52000

    # Step 8: the SAL builds and sends the quote; the customer accepts it through their link.
    sal.go(f"/ps-opportunities/{ps.pk}/")
    act(sal, "Build the quote", valid_until="2027-01-31")
    act(sal, "Submit")
    act(sal, "Send to the customer", contact=contact.name + " <" + contact.email + ">")
    quote = Quote.objects.get(ps_opportunity=ps)
    assert quote.state == "sent"
    link = customer_link(contact.email)
    customer.go(link)
    customer.shot("quote")
    press(customer, "button[value=accept]")
    assert "Thank you" in customer.page.content()
    # The same link again: a clear page, nothing changes.
    customer.go(link)
    assert "already" in customer.page.content().lower()

    # Step 9: the PSE writes the SOW; the PS manager approves it; the customer signs through their link.
    pse.go(f"/quotes/{quote.pk}/")
    act(pse, "Write the SOW")
    sow = Sow.objects.get(quote=quote)
    pse.go(f"/sows/{sow.pk}/")
    act(pse, "Send to review")
    psm.go(f"/sows/{sow.pk}/")
    act(psm, "Approve")
    pse.go(f"/sows/{sow.pk}/")
    act(pse, "Send for signature", contact=contact.name + " <" + contact.email + ">")
    customer.go(customer_link(contact.email))
    customer.page.fill("#id_name", contact.name)
    customer.page.fill("#id_title", "Director of Engineering")
    customer.shot("sow")
    press(customer, "button[value=sign]")
    sow.refresh_from_db()
    assert sow.state == "signed" and sow.signature.ip_address

    # Step 10: the SAL marks Closed Won. Step 11: the project exists. Step 12: Finance issues the invoice.
    sal.go(f"/ps-opportunities/{ps.pk}/")
    act(sal, "Mark Closed Won")
    project = Project.objects.get(sow=sow)
    invoice = Invoice.objects.get(project=project)
    fin.go("/")
    press(fin, f"a[href='/invoices/{invoice.pk}/']")
    act(fin, "Issue")
    invoice.refresh_from_db()
    assert invoice.state == "issued" and invoice.amount == 52000

    # Step 13: the PS manager staffs and advances the project; the PSE delivers.
    psm.go(f"/projects/{project.pk}/")
    act(psm, "Assign engineer", engineer="Eli Engineer")
    act(psm, "Kick off", kickoff_date="2026-11-02", budget_hours="200")
    act(psm, "Start delivery")
    pse.go(f"/projects/{project.pk}/")
    act(pse, "Report progress", percent="90")
    pse.shot("project")

    # Step 14: the customer accepts the work through their link; the PSE runs the wrap-up.
    act(pse, "Ask the customer to accept completion", contact=contact.name + " <" + contact.email + ">")
    customer.go(customer_link(contact.email))
    customer.page.fill("#id_name", contact.name)
    customer.page.fill("#id_title", "Director of Engineering")
    press(customer, "button[value=accept]")
    project.refresh_from_db()
    assert (project.state, project.percent_complete) == ("completed", 100)
    pse.go(f"/projects/{project.pk}/")
    act(pse, "Start the financial wrap-up")
    for code in ("summary-sent", "notified", "documents"):
        act(pse, "Tick a wrap-up item", code=code)
    act(pse, "Tick a wrap-up item", code="hours-cost", actual_hours="180", actual_cost="27000")

    # Step 15: the SAL sends the sign-off document; the customer signs it; the PSE finishes the wrap-up.
    sal.go(f"/projects/{project.pk}/")
    act(sal, "Send the sign-off document", contact=contact.name + " <" + contact.email + ">")
    customer.go(customer_link(contact.email))
    customer.page.fill("#id_name", contact.name)
    customer.page.fill("#id_title", "Director of Engineering")
    press(customer, "button[value=sign]")
    pse.go(f"/projects/{project.pk}/")
    act(pse, "Finish the wrap-up")
    project.refresh_from_db()
    assert project.state == "wrapped-up"

    # Step 16: Finance sees the balance in collections, reminds, and records the payment.
    fin.go("/")
    assert "Northwind" in fin.page.content()
    fin.shot("collections")
    fin.go(f"/invoices/{invoice.pk}/")
    act(fin, "Send reminder")
    act(fin, "Record payment", amount="52000", received_on="2026-11-20")
    invoice.refresh_from_db()
    assert invoice.state == "paid"
    assert CollectionCase.objects.get(project=project).state == "closed"


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(visit):
    import datetime as dt

    from django.utils import timezone

    from psops.links.models import CustomerLink

    quote = Quote.objects.get(state="sent")
    sal = visit("sal-resend").login("sal")
    sal.go(f"/quotes/{quote.pk}/")
    act(sal, "Send the link again")  # a fresh link we can read from the outbox
    link = customer_link(quote.sent_to.email)
    CustomerLink.objects.filter(used_at__isnull=True, revoked_at__isnull=True).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1))
    customer = visit("customer-expired")
    response = customer.page.goto(customer.base_url + link)
    assert response.status == 410
    assert "This link has expired" in customer.page.content()
    customer.shot("expired-link")
    quote.refresh_from_db()
    assert quote.state == "sent"


def test_a_refused_act_and_an_altered_link(visit):
    quote = Quote.objects.get(state="sent")
    # The SA may not send a quote: no button, and a forged post is refused with a reason.
    sa = visit("sa").login("sa")
    sa.go(f"/quotes/{quote.pk}/")
    assert "Send to the customer" not in sa.page.content()
    response = sa.page.request.post(sa.base_url + f"/r/quote/{quote.pk}/act/send/",
                                    headers={"X-CSRFToken": sa.context.cookies()[0]["value"]})
    assert response.status in (403, 404)
    quote.refresh_from_db()
    assert quote.state == "sent"
    # A customer link with one character changed: a clear page, nothing else.
    stranger = visit("stranger")
    stranger.go("/c/this-is-not-a-real-link/")
    assert stranger.page.locator("h1").inner_text()
    stranger.shot("altered-link")


def test_screens_of_each_dashboard_and_list(visit):
    finance = visit("finance-dash").login("finance")
    for path, label in (("/dashboards/", "dashboards"), ("/invoices/", "invoices")):
        finance.go(path)
        assert finance.page.locator("h1").count() == 1
        finance.shot(label)
    manager = visit("psmanager-lists").login("psmanager")
    for path, label in (("/deals/", "deals"), ("/approvals/", "approvals"), ("/projects/", "projects"),
                        ("/dashboards/", "dashboards")):
        manager.go(path)
        assert manager.page.locator("h1").count() == 1
        manager.shot(label)
