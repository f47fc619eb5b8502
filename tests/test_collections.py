"""Step 16: after the wrap-up Finance knows every open balance and its ageing, at a fixed cost."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.billing import selectors, services
from psops.billing.ageing import bucket
from psops.billing.models import Invoice
from tests.builders import signed_project
from tests.factories import make_deal

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("days_late, expected", [
    (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"),
    (90, "61-90"), (91, "over-90"), (400, "over-90"),
])
def test_ageing_buckets(days_late, expected):
    today = dt.date(2026, 11, 25)
    assert bucket(today - dt.timedelta(days=days_late), today) == expected


def _wrapped_up_case(people, name, issued_days_ago, before_wrap_up=None):
    """A project whose invoice was issued `issued_days_ago`, wrapped up into collections (via the services)."""
    from psops.delivery import services as delivery
    from psops.workflow import services as workflow
    from tests.factories import customer

    _, contact, opp = make_deal(people, name=name)
    project = signed_project(people, opp, contact)
    invoice = project.invoices.get()
    services.invoice_issue(user=people["finance"], invoice=invoice,
                           issue_date=timezone.localdate() - dt.timedelta(days=issued_days_ago))
    delivery.project_assign_engineer(user=people["psmanager"], project=project, engineer=people["pse"])
    delivery.project_kick_off(user=people["psmanager"], project=project, kickoff_date=timezone.localdate())
    delivery.project_start_delivery(user=people["psmanager"], project=project)
    if before_wrap_up is not None:
        before_wrap_up(project)
    request = delivery.completion_request(user=people["pse"], project=project, contact=contact)
    delivery.completion_accept(customer=customer(contact), request=request, name="C", title="CTO")
    project.refresh_from_db()
    wrap = workflow.wrap_up_start(user=people["pse"], project=project)
    for code in ("summary-sent", "notified", "documents"):
        delivery.wrap_up_tick(user=people["pse"], wrap=wrap, code=code)
    delivery.wrap_up_tick(user=people["pse"], wrap=wrap, code="hours-cost", actual_hours="10", actual_cost="1500")
    delivery.sign_off_send(user=people["sal"], project=project, contact=contact)
    return workflow.wrap_up_finish(user=people["pse"], wrap=wrap), invoice


def test_finance_sees_open_balances_with_their_ageing_at_a_fixed_cost(people):
    fin = people["finance"]
    case_a, invoice_a = _wrapped_up_case(people, "Alpha Co", issued_days_ago=75)  # due 45 days ago
    with CaptureQueriesContext(connection) as one:
        cases = selectors.collection_list(user=fin, limit=25)
    assert [(c.pk, c.outstanding, c.bucket) for c in cases] == [(case_a.pk, invoice_a.amount, "31-60")]
    case_b, invoice_b = _wrapped_up_case(people, "Beta Co", issued_days_ago=10)
    services.payment_record(user=fin, invoice=invoice_b, amount="1000", received_on=timezone.localdate())
    with CaptureQueriesContext(connection) as two:
        cases = selectors.collection_list(user=fin, limit=25)
    assert len(one) == len(two) == 1
    assert [(c.pk, c.outstanding, c.bucket) for c in cases] == [
        (case_a.pk, invoice_a.amount, "31-60"), (case_b.pk, invoice_b.amount - Decimal("1000"), "current")]
    report = selectors.ageing(user=fin)
    assert report["31-60"] == invoice_a.amount and report["current"] == invoice_b.amount - 1000
    # Nobody outside Finance sees receivables.
    assert selectors.collection_list(user=people["sal"], limit=25) == []
    assert not selectors.collections_open(user=people["pse"]).exists()
    assert set(selectors.ageing(user=people["pse"]).values()) == {Decimal("0.00")}


def test_paying_everything_closes_the_case(people):
    case, invoice = _wrapped_up_case(people, "Gamma Co", issued_days_ago=40)
    services.payment_record(user=people["finance"], invoice=invoice, amount=invoice.amount,
                            received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "closed" and Invoice.objects.get(pk=invoice.pk).state == "paid"
    assert selectors.collection_list(user=people["finance"], limit=25) == []


def test_a_case_stays_open_while_a_draft_invoice_waits(people):
    from psops.workflow import services as workflow

    def late_change_order(project):
        workflow.change_order_add(user=people["psmanager"], project=project, description="Extra day", amount="2000")

    case, invoice = _wrapped_up_case(people, "Delta Co", issued_days_ago=5, before_wrap_up=late_change_order)
    draft = invoice.project.invoices.get(state="draft")
    services.payment_record(user=people["finance"], invoice=invoice, amount=invoice.amount,
                            received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "open", "closed while a draft invoice was still to issue"
    services.invoice_issue(user=people["finance"], invoice=draft)
    services.payment_record(user=people["finance"], invoice=draft, amount="2000", received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "closed"


def test_the_case_keeps_what_its_invoices_owe_and_since_when(people):
    """Outstanding and the oldest due date are kept on the case by the services that move money (decision 0014);
    `psops invariants collections-kept` finds a case edited by hand."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    from psops.billing.models import CollectionCase
    from psops.workflow import invariants
    from psops.workflow import services as workflow

    def late_change_order(project):
        workflow.change_order_add(user=people["psmanager"], project=project, description="Extra day", amount="2000")

    fin = people["finance"]
    case, invoice = _wrapped_up_case(people, "Kappa Co", issued_days_ago=50, before_wrap_up=late_change_order)
    case.refresh_from_db()
    assert (case.outstanding, case.oldest_due) == (invoice.amount, invoice.due_date)
    services.payment_record(user=fin, invoice=invoice, amount="1000", received_on=timezone.localdate())
    draft = invoice.project.invoices.get(state="draft")
    later = services.invoice_issue(user=fin, invoice=draft)
    case.refresh_from_db()
    assert (case.outstanding, case.oldest_due) == (invoice.amount - 1000 + Decimal("2000"), invoice.due_date)
    services.credit_note_issue(user=fin, invoice=invoice, amount=invoice.amount - 1000, reason="Goodwill")
    case.refresh_from_db()
    assert (case.state, case.outstanding, case.oldest_due) == ("open", Decimal("2000.00"), later.due_date)
    assert list(invariants.collections_kept()) == []
    CollectionCase.objects.filter(pk=case.pk).update(outstanding=Decimal("5.00"))
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("invariants", "collections-kept", stdout=out)
    assert refused.value.returncode == 1
    assert (f"[collections-kept] collection case {case.pk}: keeps 5.00 outstanding, oldest due {later.due_date}; its "
            f"invoices say 2,000.00, oldest due {later.due_date}") in out.getvalue()
    CollectionCase.objects.filter(pk=case.pk).update(outstanding=Decimal("2000.00"))
    services.payment_record(user=fin, invoice=later, amount="2000", received_on=timezone.localdate())
    case.refresh_from_db()
    assert (case.state, case.outstanding, case.oldest_due) == ("closed", Decimal("0.00"), None)
    assert list(invariants.collections_kept()) == []


def _reminder_scene(people):
    """Five engagements in collections: overdue and never reminded; overdue but reminded by hand two days ago;
    overdue and disputed; not due yet; overdue at the top level, last reminded eight days ago."""
    from psops.billing.models import CollectionCase

    fresh, _ = _wrapped_up_case(people, "Fresh Co", issued_days_ago=60)
    recent, _ = _wrapped_up_case(people, "Recent Co", issued_days_ago=60)
    services.collection_remind(user=people["finance"], case=recent)
    CollectionCase.objects.filter(pk=recent.pk).update(last_reminder_at=timezone.now() - dt.timedelta(days=2))
    disputed, _ = _wrapped_up_case(people, "Disputed Co", issued_days_ago=60)
    services.collection_dispute(user=people["finance"], case=disputed, note="Wrong rate")
    current, _ = _wrapped_up_case(people, "Current Co", issued_days_ago=1)
    top, _ = _wrapped_up_case(people, "Top Co", issued_days_ago=90)
    CollectionCase.objects.filter(pk=top.pk).update(reminder_level=4,
                                                    last_reminder_at=timezone.now() - dt.timedelta(days=8))
    return fresh, recent, disputed, current, top


def test_the_reminder_run_reminds_each_due_case_once(people, mailoutbox, django_capture_on_commit_callbacks):
    from psops.activity.models import Notification, TimelineEvent
    from psops.billing.models import CollectionAction, CollectionCase

    fresh, recent, disputed, current, top = _reminder_scene(people)
    before = {c.pk: (c.reminder_level, c.last_reminder_at) for c in CollectionCase.objects.all()}
    assert set(selectors.reminders_due().values_list("pk", flat=True)) == {fresh.pk, top.pk}
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.collection_remind_due(user=people["finance"])
    assert sent == {1: 1, 4: 1}
    assert services.reminder_run_summary(sent) == "Sent 2 reminders: 1 × friendly reminder, 1 × escalation to the " \
                                                  "account owner."
    after = {c.pk: c for c in CollectionCase.objects.all()}
    assert (after[fresh.pk].reminder_level, after[top.pk].reminder_level) == (1, 4)  # the top level stays the top
    for untouched in (recent, disputed, current):
        assert (after[untouched.pk].reminder_level, after[untouched.pk].last_reminder_at) == before[untouched.pk]
    actions = CollectionAction.objects.filter(kind="reminder", note="Reminder run")
    assert sorted(actions.values_list("case_id", "level", "by__username")) == sorted(
        [(fresh.pk, 1, "finance"), (top.pk, 4, "finance")])
    events = TimelineEvent.objects.filter(verb="collection.reminder", subject_id__in=[fresh.pk, top.pk],
                                          actor=people["finance"], data={})
    assert sorted(e.message for e in events) == [f"{people['finance']} sent a friendly reminder",
                                                 f"{people['finance']} sent an escalation to the account owner"]
    # Each event is filed under its engagement's thread, so the deal's timeline shows it.
    for event in events:
        deal = CollectionCase.objects.get(pk=event.subject_id).project.ps_opportunity.parent
        assert (event.thread.root_type.model, event.thread.root_id) == ("opportunity", deal.pk)
    escalations = Notification.objects.filter(kind="collection-escalation", subject_id=top.pk)
    assert [n.recipient for n in escalations] == [top.project.ps_opportunity.owner]
    to_customers = [m for m in mailoutbox if m.to == [top.project.sow.sent_to.email]
                    or m.to == [fresh.project.sow.sent_to.email]]
    assert sorted(m.body.split(":")[0] for m in to_customers) == ["Escalation to the account owner",
                                                                  "Friendly reminder"]
    # Run again at once: nothing is due, nothing changes.
    again = services.collection_remind_due(user=people["finance"])
    assert not again and services.reminder_run_summary(again).startswith("No reminder is due")
    assert CollectionAction.objects.filter(note="Reminder run").count() == 2


def test_the_reminder_run_costs_the_same_for_many_cases(people):
    """Set-based: the number of queries does not grow with the number of cases reminded."""
    from psops.billing.models import CollectionCase

    _reminder_scene(people)
    with CaptureQueriesContext(connection) as two:
        assert sum(services.collection_remind_due(user=people["finance"]).values()) == 2
    CollectionCase.objects.update(last_reminder_at=None, disputed=False)
    CollectionCase.objects.filter(oldest_due__isnull=False).update(oldest_due=dt.date(2026, 1, 1))
    with CaptureQueriesContext(connection) as five:
        assert sum(services.collection_remind_due(user=people["finance"]).values()) == 5
    assert len(two) == len(five)


def test_only_finance_runs_the_reminders_and_a_refusal_changes_nothing(people):
    from psops.billing.models import CollectionAction
    from psops.core.errors import ApplicationError

    _reminder_scene(people)
    for who in ("sal", "controller", "pse"):
        with pytest.raises(ApplicationError) as refused:
            services.collection_remind_due(user=people[who])
        assert refused.value.code == "forbidden" and refused.value.message == "Only Finance runs the reminders."
    assert not CollectionAction.objects.filter(note="Reminder run").exists()
    # The scheduled run acts as the system: nobody's name on the actions, "system" on the timeline.
    assert services.collection_remind_due(user=None) == {1: 1, 4: 1}
    assert set(CollectionAction.objects.filter(note="Reminder run").values_list("by", flat=True)) == {None}


def test_the_reminder_run_command(people):
    from io import StringIO

    from django.core.management import CommandError, call_command

    _reminder_scene(people)
    for args, message in ((["--as", "nobody"], "No user named 'nobody'."),
                          (["--as", "sal"], "Only Finance runs the reminders.")):
        with pytest.raises(CommandError) as refused:
            call_command("collections_remind", *args)
        assert refused.value.returncode == 2 and str(refused.value) == message
    out = StringIO()
    call_command("collections_remind", "--as", "finance", stdout=out)
    assert out.getvalue().strip() == "Sent 2 reminders: 1 × friendly reminder, 1 × escalation to the account owner."
    out = StringIO()
    call_command("collections_remind", stdout=out)
    assert out.getvalue().startswith("No reminder is due")


def test_the_collections_page_and_its_reminder_run(client, people):
    fresh, recent, disputed, current, top = _reminder_scene(people)
    client.force_login(people["finance"])
    page = client.get("/collections/").content.decode()
    body = page.split("<tbody>", 1)[1]
    # The longest overdue first; the run is offered.
    assert body.index("Top Co") < body.index("Fresh Co") < body.index("Current Co")
    assert "Send the reminders due" in page
    due = client.get("/collections/?due=1").content.decode().split("<tbody>", 1)[1]
    assert "Fresh Co" in due and "Top Co" in due and "Recent Co" not in due and "Disputed Co" not in due
    assert client.get("/collections/remind/").status_code == 405
    response = client.post("/collections/remind/", follow=True)
    assert response.redirect_chain == [("/collections/", 302)]
    assert "Sent 2 reminders: 1 × friendly reminder, 1 × escalation to the account owner." in \
        response.content.decode()
    # The controller reads the list but is not offered the run, and is refused with the reason if they post.
    client.force_login(people["controller"])
    assert "Send the reminders due" not in client.get("/collections/").content.decode()
    refused = client.post("/collections/remind/")
    assert refused.status_code == 403 and "Only Finance runs the reminders." in refused.content.decode()
    # A filter value nobody offered is ignored: the open cases are shown.
    assert "Fresh Co" in client.get("/collections/?state=bogus&sort=nothing").content.decode()


def test_a_reminder_by_hand_builds_on_the_level_the_run_reached(people):
    """The case a page loaded before the run is not written back over it: the hand reminder goes one level up from
    what the run stored."""
    from psops.billing.models import CollectionCase

    fresh, *_ = _reminder_scene(people)
    stale = CollectionCase.objects.get(pk=fresh.pk)  # loaded at level 0
    services.collection_remind_due(user=people["finance"])
    services.collection_remind(user=people["finance"], case=stale)
    assert CollectionCase.objects.get(pk=fresh.pk).reminder_level == 2


def test_the_invoice_page_shows_what_is_owed_and_the_collection_so_far(client, people):
    fin = people["finance"]
    case, invoice = _wrapped_up_case(people, "Omega Co", issued_days_ago=50)
    client.force_login(fin)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "no reminder or promise yet" in page and "part paid" not in page
    services.payment_record(user=fin, invoice=invoice, amount="1000", received_on=timezone.localdate())
    services.collection_remind(user=fin, case=case)
    services.collection_promise(user=fin, case=case, amount="500", promised_for=dt.date(2027, 1, 15), note="CFO call")
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    owed = f"{invoice.amount - 1000:,}"
    assert f"USD {owed}" in page and "part paid" in page
    assert "Reminder (level 1)" in page and "Promise to pay of USD 500.00 by 2027-01-15 — CFO call" in page
