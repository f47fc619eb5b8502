"""Bad input at the service door: every refusal has a stable code, a sentence for a person, and changes nothing.

Each case brings a fresh engagement to a stage with the real services (`tests.factories.reach`), then knocks on one
door with bad input or at the wrong moment. `assert_refused` checks the code, the message (non-empty, no traceback)
and that not one row of the database changed, the timeline included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from psops.approvals import services as approvals
from psops.billing import services as billing
from psops.billing.models import Invoice
from psops.crm import services as crm
from psops.delivery import services as delivery
from psops.delivery.models import Project
from psops.estimating import services as estimating
from psops.sales import services as sales
from psops.sales.models import Quote
from psops.workflow import services as workflow
from tests.factories import SMALL_ROM, assert_refused, customer, reach

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def later(days: int = 30) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)




@pytest.fixture
def travel(monkeypatch):
    """Move the clock forward by some days (every service reads the time through django.utils.timezone)."""
    real_now = timezone.now

    def go(days: int) -> None:
        monkeypatch.setattr(timezone, "now", lambda: real_now() + dt.timedelta(days=days))

    return go


@pytest.fixture
def stranger(people):
    """A contact of another customer's account."""
    other = crm.account_create(user=people["sal"], name="Globex Inc")
    contact = crm.contact_create(user=people["sal"], account=other, name="Mallory Other", email="mallory@globex.test")
    return contact


# --- Amounts: negative, garbage, float, not finite --------------------------------------------------------------

BAD_AMOUNTS = [
    pytest.param("-100", id="negative"),
    pytest.param("12,000", id="thousands-separator"),
    pytest.param("abc", id="not-a-number"),
    pytest.param("", id="empty"),
    pytest.param(1000.5, id="float"),
    pytest.param(1000.0, id="whole-float"),
    pytest.param("NaN", id="nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param(True, id="bool"),
]

# door -> (stage, act(engagement, amount))
AMOUNT_DOORS = {
    "opportunity_create": ("deal", lambda e, v: crm.opportunity_create(
        user=e.people["sal"], account=e.account, name="Deal", close_date=later(), segment="smb", amount=v)),
    "ps_opportunity_create": ("deal", lambda e, v: crm.ps_opportunity_create(
        user=e.people["sal"], parent=e.opp, name="PS", ps_amount=v)),
    "ps_opportunity_set_amount": ("ps", lambda e, v: crm.ps_opportunity_set_amount(
        user=e.people["sal"], ps_opportunity=e.ps, ps_amount=v)),
    "quote_create discount": ("rom-approved", lambda e, v: sales.quote_create(
        user=e.people["sal"], ps_opportunity=e.ps, valid_until=later(), discount_percent=v)),
    "sow_update hourly_rate": ("sow", lambda e, v: sales.sow_update(user=e.people["pse"], sow=e.sow, hourly_rate=v)),
    "sow_update milestone": ("sow", lambda e, v: sales.sow_update(
        user=e.people["pse"], sow=e.sow, billing_terms="milestones", milestones=[("All of it", v)])),
    "change_order_add": ("in-delivery", lambda e, v: workflow.change_order_add(
        user=e.people["psmanager"], project=e.project, description="More sites", amount=v)),
    "wrap_up_tick actual_cost": ("wrap-up", lambda e, v: delivery.wrap_up_tick(
        user=e.people["pse"], wrap=e.wrap, code="hours-cost", actual_hours="100", actual_cost=v)),
    "payment_record": ("invoiced", lambda e, v: billing.payment_record(
        user=e.people["finance"], invoice=e.invoice, amount=v, received_on=TODAY())),
    "credit_note_issue": ("invoiced", lambda e, v: billing.credit_note_issue(
        user=e.people["finance"], invoice=e.invoice, amount=v, reason="Late start")),
    "write_off_request": ("invoiced", lambda e, v: billing.write_off_request(
        user=e.people["finance"], invoice=e.invoice, amount=v, reason="Goodwill")),
    "collection_promise": ("wrapped-up", lambda e, v: billing.collection_promise(
        user=e.people["finance"], case=e.case, amount=v, promised_for=later(7))),
}


@pytest.mark.parametrize("value", BAD_AMOUNTS)
@pytest.mark.parametrize("door", list(AMOUNT_DOORS))
def test_bad_amounts_are_refused(people, door, value):
    stage, act = AMOUNT_DOORS[door]
    engagement = reach(people, stage)
    error = assert_refused(lambda: act(engagement, value), "invalid-amount")
    if isinstance(value, float):
        assert "float" in error.message or "decimal" in error.message


@pytest.mark.parametrize("door", ["opportunity_create", "ps_opportunity_create", "ps_opportunity_set_amount",
                                  "payment_record", "credit_note_issue", "write_off_request", "change_order_add"])
def test_a_missing_amount_is_refused(people, door):
    stage, act = AMOUNT_DOORS[door]
    engagement = reach(people, stage)
    assert_refused(lambda: act(engagement, None), "invalid-amount")


@pytest.mark.parametrize(("door", "code"), [
    ("payment_record", "invalid-amount"),
    ("credit_note_issue", "invalid-credit"),
    ("write_off_request", "invalid-write-off"),
    ("change_order_add", "invalid-change-order"),
])
def test_zero_is_not_an_amount_for_money_that_moves(people, door, code):
    stage, act = AMOUNT_DOORS[door]
    engagement = reach(people, stage)
    assert_refused(lambda: act(engagement, "0"), code)


@pytest.mark.parametrize("hours", ["-1", "0", "24.5", "abc", 7.5, "NaN", True])
def test_bad_hours_are_refused(people, hours):
    engagement = reach(people, "in-delivery")
    assert_refused(lambda: delivery.time_log(user=people["pse"], project=engagement.project, date=TODAY(),
                                             hours=hours), "invalid-hours")


def test_no_more_than_24_hours_in_a_day(people):
    engagement = reach(people, "in-delivery")
    delivery.time_log(user=people["pse"], project=engagement.project, date=TODAY(), hours="20")
    assert_refused(lambda: delivery.time_log(user=people["pse"], project=engagement.project, date=TODAY(),
                                             hours="10"), "invalid-hours")


@pytest.mark.parametrize("hours", ["-5", 120.0, "lots"])
def test_bad_budget_hours_are_refused(people, hours):
    engagement = reach(people, "staffed")
    assert_refused(lambda: delivery.project_kick_off(user=people["psmanager"], project=engagement.project,
                                                     kickoff_date=TODAY(), budget_hours=hours), "invalid-hours")


def test_float_actual_hours_are_refused(people):
    engagement = reach(people, "wrap-up")
    assert_refused(lambda: delivery.wrap_up_tick(user=people["pse"], wrap=engagement.wrap, code="hours-cost",
                                                  actual_hours=99.5, actual_cost="15000"), "invalid-hours")


# --- Unknown stages, segments, currencies, loss reasons, billing terms and other names -------------------------


def test_unknown_segment(people):
    engagement = reach(people, "deal")
    assert_refused(lambda: crm.opportunity_create(user=people["sal"], account=engagement.account, name="Deal",
                                                  close_date=later(), segment="enterprise"), "invalid-segment")


@pytest.mark.parametrize("currency", ["XYZ", "usd", "", "US$"])
def test_unknown_currency(people, currency):
    engagement = reach(people, "deal")
    assert_refused(lambda: crm.opportunity_create(user=people["sal"], account=engagement.account, name="Deal",
                                                  close_date=later(), segment="smb", currency=currency),
                   "invalid-currency")


def test_ps_opportunity_keeps_its_parents_currency(people):
    engagement = reach(people, "deal")
    assert_refused(lambda: crm.ps_opportunity_create(user=people["sal"], parent=engagement.opp, name="PS",
                                                     ps_amount="1000", currency="EUR"), "currency-mismatch")


@pytest.mark.parametrize("stage", ["3-technical", "Closed Won", "closed-lost", ""])
def test_unknown_stage(people, stage):
    engagement = reach(people, "deal")
    assert_refused(lambda: crm.opportunity_move_stage(user=people["sal"], opportunity=engagement.opp, stage=stage),
                   "invalid-stage")


def test_moving_to_the_same_stage(people):
    engagement = reach(people, "scoping")
    assert_refused(lambda: crm.opportunity_move_stage(user=people["sal"], opportunity=engagement.opp,
                                                      stage="2-scoping"), "same-stage")


def test_moving_back_needs_a_reason(people):
    engagement = reach(people, "scoping")
    assert_refused(lambda: crm.opportunity_move_stage(user=people["admin"], opportunity=engagement.opp,
                                                      stage="1-discovery", reason="  "), "reason-required")


@pytest.mark.parametrize("reason", ["price", "", "Budget"])
def test_unknown_loss_reason(people, reason):
    engagement = reach(people, "ps")
    assert_refused(lambda: crm.ps_opportunity_close_lost(user=people["sal"], ps_opportunity=engagement.ps,
                                                         reason=reason), "invalid-loss-reason")


def test_unknown_billing_terms_on_a_quote(people):
    engagement = reach(people, "rom-approved")
    assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps, valid_until=later(),
                                              billing_terms="net-90"), "invalid-billing-terms")


def test_unknown_billing_terms_on_a_sow(people):
    engagement = reach(people, "sow")
    assert_refused(lambda: sales.sow_update(user=people["pse"], sow=engagement.sow, billing_terms="weekly"),
                   "invalid-billing-terms")


@pytest.mark.parametrize("net_days", [121, -1, "30", True])
def test_bad_net_days_on_a_sow(people, net_days):
    engagement = reach(people, "sow")
    assert_refused(lambda: sales.sow_update(user=people["pse"], sow=engagement.sow, net_days=net_days),
                   "invalid-net-days")


def test_sow_price_is_not_editable(people):
    engagement = reach(people, "sow")
    assert_refused(lambda: sales.sow_update(user=people["pse"], sow=engagement.sow, price=Decimal("1")),
                   "invalid-field")


def test_unknown_calculator_template(people):
    engagement = reach(people, "deal")
    assert_refused(lambda: estimating.rom_create(user=people["sa"], opportunity=engagement.opp, template="bespoke",
                                                 answers=SMALL_ROM), "unknown-template")


def test_unknown_decision_outcome(people):
    engagement = reach(people, "rom-submitted")
    assert_refused(lambda: approvals.rom_decide(user=people["psmanager"], request=engagement.rom_request,
                                                outcome="maybe", comment="Not sure"), "invalid-outcome")


@pytest.mark.parametrize(("outcome", "code"), [("needs-discovery", "questions-required"),
                                               ("reject", "comment-required")])
def test_a_no_needs_a_reason(people, outcome, code):
    engagement = reach(people, "rom-submitted")
    assert_refused(lambda: approvals.rom_decide(user=people["psmanager"], request=engagement.rom_request,
                                                outcome=outcome), code)


@pytest.mark.parametrize(("items", "code"), [([("NO-SUCH-SKU", 1)], "unknown-sku"),
                                             ([("GL-BAS-R", 0)], "invalid-quantity"),
                                             ([("GL-BAS-R", "2")], "invalid-quantity"),
                                             ([("GL-BAS-R", True)], "invalid-quantity")])
def test_quote_lines_from_the_price_book(people, items, code):
    engagement = reach(people, "rom-approved")
    assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps, valid_until=later(),
                                              items=items), code)


@pytest.mark.parametrize("code", ["party", "final-invoice", "sign-off-sent"])
def test_wrap_up_items_that_are_not_ticked_by_hand(people, code):
    engagement = reach(people, "wrap-up")
    expected = "item-not-found" if code == "party" else "automatic-item"
    assert_refused(lambda: delivery.wrap_up_tick(user=people["pse"], wrap=engagement.wrap, code=code), expected)


def test_hours_and_cost_need_the_figures(people):
    engagement = reach(people, "wrap-up")
    assert_refused(lambda: delivery.wrap_up_tick(user=people["pse"], wrap=engagement.wrap, code="hours-cost"),
                   "figures-required")


# --- Dates, percentages, discounts ---------------------------------------------------------------------------


def test_quote_validity_in_the_past(people):
    engagement = reach(people, "rom-approved")
    assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps,
                                              valid_until=later(-1)), "invalid-validity")


@pytest.mark.parametrize("discount", ["100.01", "150", "1000"])
def test_discount_over_100_percent(people, discount):
    engagement = reach(people, "rom-approved")
    assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps, valid_until=later(),
                                              discount_percent=discount), "invalid-discount")


def test_go_live_before_kick_off(people):
    engagement = reach(people, "staffed")
    assert_refused(lambda: delivery.project_kick_off(user=people["psmanager"], project=engagement.project,
                                                     kickoff_date=TODAY(), go_live_date=later(-1)), "invalid-dates")


def test_time_is_not_logged_in_the_future(people):
    engagement = reach(people, "in-delivery")
    assert_refused(lambda: delivery.time_log(user=people["pse"], project=engagement.project, date=later(1),
                                             hours="4"), "invalid-date")


@pytest.mark.parametrize("percent", [99, 100, -1, "50", 50.0, True])
def test_progress_during_delivery_is_0_to_98(people, percent):
    engagement = reach(people, "in-delivery")
    assert_refused(lambda: delivery.project_set_progress(user=people["pse"], project=engagement.project,
                                                         percent=percent), "invalid-percent")


# --- SOW terms ----------------------------------------------------------------------------------------------------


def test_sow_milestones_must_add_up_to_the_price(people):
    engagement = reach(people, "sow")
    sow = engagement.sow
    assert sow.price == Decimal("40000.00")
    # Refused when saved (the page says so at once), and a SOW with milestone terms but none goes to no review.
    error = assert_refused(lambda: sales.sow_update(user=people["pse"], sow=sow, billing_terms="milestones",
                                                    milestones=[("Design", "10000"), ("Build", "20000")]),
                           "milestones-mismatch")
    assert "40,000.00" in error.message and "30,000.00" in error.message
    sales.sow_update(user=people["pse"], sow=sow, billing_terms="milestones")
    assert_refused(lambda: sales.sow_submit_review(user=people["pse"], sow=sow), "milestones-mismatch")


def test_milestone_terms_need_milestones(people):
    engagement = reach(people, "sow")
    sales.sow_update(user=people["pse"], sow=engagement.sow, billing_terms="milestones")
    assert_refused(lambda: sales.sow_submit_review(user=people["pse"], sow=engagement.sow), "milestones-mismatch")


def test_time_and_materials_needs_an_hourly_rate(people):
    engagement = reach(people, "sow")
    sales.sow_update(user=people["pse"], sow=engagement.sow, billing_terms="time-and-materials")
    assert_refused(lambda: sales.sow_submit_review(user=people["pse"], sow=engagement.sow), "hourly-rate-required")


# --- Money that would exceed what is owed or what may be billed ------------------------------------------------


def test_overpayment(people):
    engagement = reach(people, "invoiced")
    pay = billing.payment_record
    assert_refused(lambda: pay(user=people["finance"], invoice=engagement.invoice, amount="40000.01",
                               received_on=TODAY()), "overpayment")
    pay(user=people["finance"], invoice=engagement.invoice, amount="30000", received_on=TODAY())
    assert_refused(lambda: pay(user=people["finance"], invoice=engagement.invoice, amount="10000.01",
                               received_on=TODAY()), "overpayment")


def test_over_credit(people):
    engagement = reach(people, "invoiced")
    assert_refused(lambda: billing.credit_note_issue(user=people["finance"], invoice=engagement.invoice,
                                                     amount="40000.01", reason="Too much"), "over-credit")
    billing.payment_record(user=people["finance"], invoice=engagement.invoice, amount="39000", received_on=TODAY())
    assert_refused(lambda: billing.credit_note_issue(user=people["finance"], invoice=engagement.invoice,
                                                     amount="1000.01", reason="Too much"), "over-credit")


def test_over_write_off(people):
    engagement = reach(people, "write-off-requested")  # 1,000 of 40,000 already proposed
    assert_refused(lambda: billing.write_off_request(user=people["finance"], invoice=engagement.invoice,
                                                     amount="39000.01", reason="Everything"), "over-write-off")


def test_over_billing_without_a_change_order(people):
    """Time and materials at 5,000 an hour: 8.5 approved hours (42,500) exceed the SOW's 40,000."""
    engagement = reach(people, "time-logged", billing_terms="time-and-materials", hourly_rate="5000")
    more = delivery.time_log(user=people["pse"], project=engagement.project, date=TODAY(), hours="1")
    delivery.time_approve(user=people["psmanager"], entries=[engagement.entry, more])
    error = assert_refused(lambda: billing.invoice_draft_time(user=people["finance"], project=engagement.project,
                                                              month=TODAY()), "over-billing")
    assert "change order" in error.message


def test_the_same_month_of_time_is_not_billed_twice(people):
    engagement = reach(people, "time-logged", billing_terms="time-and-materials", hourly_rate="200")
    delivery.time_approve(user=people["psmanager"], entries=[engagement.entry])
    invoice = billing.invoice_draft_time(user=people["finance"], project=engagement.project, month=TODAY())
    assert invoice.amount == Decimal("1500.00")
    assert_refused(lambda: billing.invoice_draft_time(user=people["finance"], project=engagement.project,
                                                      month=TODAY()), "nothing-to-bill")


def test_a_milestone_is_billed_once(people):
    engagement = reach(people, "in-delivery", billing_terms="milestones")
    milestone = engagement.sow.milestones.order_by("position").first()
    workflow.milestone_accept(customer=engagement.buyer, project=engagement.project, milestone=milestone)
    assert Invoice.objects.filter(project=engagement.project, billing_key=f"milestone:{milestone.pk}").count() == 1
    assert_refused(lambda: workflow.milestone_accept(customer=engagement.buyer, project=engagement.project,
                                                     milestone=milestone), "already-accepted")


def test_time_is_billed_only_on_time_and_materials(people):
    engagement = reach(people, "in-delivery")
    assert_refused(lambda: billing.invoice_draft_time(user=people["finance"], project=engagement.project,
                                                      month=TODAY()), "not-time-and-materials")


# --- Acting in the wrong state -----------------------------------------------------------------------------------


def test_accepting_a_quote_past_its_validity(people, travel):
    engagement = reach(people, "quote-sent")
    travel(31)
    assert_refused(lambda: sales.quote_accept(customer=engagement.buyer, quote=engagement.quote), "quote-expired")


def test_accepting_an_expired_quote(people, travel):
    engagement = reach(people, "quote-sent")
    travel(31)
    assert sales.quote_expire(quote_id=engagement.quote.pk)
    quote = Quote.objects.get(pk=engagement.quote.pk)
    assert quote.state == Quote.State.EXPIRED
    assert_refused(lambda: sales.quote_accept(customer=engagement.buyer, quote=quote), "quote-not-open")


def test_sending_a_quote_past_its_validity(people, travel):
    engagement = reach(people, "quote-approved")
    travel(31)
    assert_refused(lambda: sales.quote_send(user=people["sal"], quote=engagement.quote, contact=engagement.contact),
                   "quote-expired")


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_answering_an_accepted_quote_again(people, answer):
    engagement = reach(people, "quote-accepted")
    act = sales.quote_accept if answer == "accept" else sales.quote_decline
    assert_refused(lambda: act(customer=engagement.buyer, quote=engagement.quote), "quote-not-open")


def test_sending_a_draft_quote(people):
    engagement = reach(people, "quote")
    assert_refused(lambda: sales.quote_send(user=people["sal"], quote=engagement.quote, contact=engagement.contact),
                   "quote-not-approved")


def test_submitting_a_quote_twice(people):
    engagement = reach(people, "quote-approved")
    assert_refused(lambda: sales.quote_submit(user=people["sal"], quote=engagement.quote), "quote-not-draft")


def test_a_second_quote_while_one_is_with_the_customer(people):
    engagement = reach(people, "quote-sent")
    # A second quote may be drafted, but goes nowhere while the first is live (one live quote per PS opportunity).
    second = sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps, valid_until=later())
    assert_refused(lambda: sales.quote_submit(user=people["sal"], quote=second), "quote-live-exists")


def test_quote_before_the_rom_is_approved(people):
    engagement = reach(people, "rom-submitted")
    assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=engagement.ps, valid_until=later()),
                   "rom-not-approved")


def test_rom_submitted_twice(people):
    engagement = reach(people, "rom-submitted")
    assert_refused(lambda: approvals.rom_submit(user=people["sal"], rom=engagement.rom), "rom-not-draft")


def test_rom_revised_while_in_approval(people):
    engagement = reach(people, "rom-submitted")
    assert_refused(lambda: estimating.rom_revise(user=people["sa"], rom=engagement.rom, answers=SMALL_ROM),
                   "rom-in-approval")


def test_rom_decided_after_it_is_decided(people):
    engagement = reach(people, "rom-approved")
    assert_refused(lambda: approvals.rom_decide(user=people["dircs"], request=engagement.rom_request,
                                                outcome="approve"), "already-decided")


def test_second_ps_opportunity_from_one_rom(people):
    engagement = reach(people, "ps")
    assert_refused(lambda: estimating.rom_open_ps_opportunity(user=people["sal"], rom=engagement.rom),
                   "ps-exists")


def test_acts_on_a_closed_deal(people):
    engagement = reach(people, "deal")
    crm.opportunity_move_stage(user=people["sal"], opportunity=engagement.opp, stage="8-closed-lost")
    assert_refused(lambda: crm.ps_opportunity_create(user=people["sal"], parent=engagement.opp, name="PS",
                                                     ps_amount="1000"), "deal-closed")
    assert_refused(lambda: estimating.rom_create(user=people["sa"], opportunity=engagement.opp, template="sm-to-saas",
                                                 answers=SMALL_ROM), "deal-closed")


def test_acts_on_a_lost_ps_opportunity(people):
    engagement = reach(people, "ps")
    crm.ps_opportunity_close_lost(user=people["sal"], ps_opportunity=engagement.ps, reason="budget")
    assert_refused(lambda: crm.ps_opportunity_set_amount(user=people["sal"], ps_opportunity=engagement.ps,
                                                         ps_amount="1"), "ps-closed")
    assert_refused(lambda: crm.ps_opportunity_close_lost(user=people["sal"], ps_opportunity=engagement.ps,
                                                         reason="other"), "ps-closed")


# act on the chain of a PS opportunity the SAL has just closed as lost -> (stage, act(engagement))
AFTER_LOST = {
    "quote_send": ("quote-approved", lambda e: sales.quote_send(user=e.people["sal"], quote=e.quote,
                                                                contact=e.contact)),
    "quote_accept": ("quote-sent", lambda e: sales.quote_accept(customer=e.buyer, quote=e.quote)),
    "quote_decline": ("quote-sent", lambda e: sales.quote_decline(customer=e.buyer, quote=e.quote)),
    "sow_send": ("sow-approved", lambda e: sales.sow_send(user=e.people["pse"], sow=e.sow, contact=e.contact)),
    "sow_sign": ("sow-sent", lambda e: sales.sow_sign(customer=e.buyer, sow=e.sow, name="Casey Customer",
                                                      title="VP Engineering")),
    "sow_request_changes": ("sow-sent", lambda e: sales.sow_request_changes(customer=e.buyer, sow=e.sow,
                                                                            changes="Add a training day")),
}


@pytest.mark.parametrize("act", list(AFTER_LOST))
def test_acts_on_the_chain_of_a_lost_ps_opportunity(people, act):
    stage, run = AFTER_LOST[act]
    engagement = reach(people, stage)
    crm.ps_opportunity_close_lost(user=people["sal"], ps_opportunity=engagement.ps, reason="budget")
    assert_refused(lambda: run(engagement), "ps-not-ready", "ps-closed")


def test_a_rom_approved_after_the_ps_opportunity_was_lost_leaves_its_amount(people):
    engagement = reach(people, "ps")
    crm.ps_opportunity_set_amount(user=people["sal"], ps_opportunity=engagement.ps, ps_amount="35000")
    request = approvals.rom_submit(user=people["sal"], rom=engagement.rom)
    crm.ps_opportunity_close_lost(user=people["sal"], ps_opportunity=engagement.ps, reason="budget")
    approvals.rom_decide(user=people["psmanager"], request=request, outcome="approve")
    engagement.ps.refresh_from_db()
    assert engagement.ps.stage == "closed-lost"
    assert engagement.ps.ps_amount == Decimal("35000.00")


def test_sow_before_the_quote_is_accepted(people):
    engagement = reach(people, "quote-sent")
    assert_refused(lambda: sales.sow_create(user=people["pse"], quote=engagement.quote), "quote-not-accepted")


def test_a_second_sow_for_one_quote(people):
    engagement = reach(people, "sow")
    assert_refused(lambda: sales.sow_create(user=people["pse2"], quote=engagement.quote), "sow-exists")


def test_sending_an_unreviewed_sow(people):
    engagement = reach(people, "sow-in-review")
    assert_refused(lambda: sales.sow_send(user=people["pse"], sow=engagement.sow, contact=engagement.contact),
                   "sow-not-approved")


def test_reviewing_a_draft_sow(people):
    engagement = reach(people, "sow")
    assert_refused(lambda: sales.sow_review(user=people["psmanager"], sow=engagement.sow, approve=True),
                   "sow-not-in-review")


def test_returning_a_sow_needs_a_comment(people):
    engagement = reach(people, "sow-in-review")
    assert_refused(lambda: sales.sow_review(user=people["psmanager"], sow=engagement.sow, approve=False),
                   "comment-required")


def test_non_standard_terms_need_the_director_of_ps(people):
    engagement = reach(people, "sow")
    sales.sow_update(user=people["pse"], sow=engagement.sow, billing_terms="on-completion")
    sales.sow_submit_review(user=people["pse"], sow=engagement.sow)
    assert_refused(lambda: sales.sow_review(user=people["psmanager"], sow=engagement.sow, approve=True),
                   "needs-approver")


@pytest.mark.parametrize("stage", ["sow-approved", "sow-signed"])
def test_signing_a_sow_that_is_not_out_for_signature(people, stage):
    engagement = reach(people, stage)
    assert_refused(lambda: sales.sow_sign(customer=engagement.buyer, sow=engagement.sow, name="Casey Customer",
                                          title="VP Engineering"), "sow-not-sent")


def test_signing_needs_name_and_title(people):
    engagement = reach(people, "sow-sent")
    assert_refused(lambda: sales.sow_sign(customer=engagement.buyer, sow=engagement.sow, name="Casey", title=" "),
                   "signature-incomplete")


def test_signing_a_sow_that_changed_since_it_was_shown(people):
    engagement = reach(people, "sow-sent")
    assert_refused(lambda: sales.sow_sign(customer=engagement.buyer, sow=engagement.sow, name="Casey Customer",
                                          title="VP Engineering", content_hash="0" * 64), "sow-changed")


def test_closed_won_before_the_signature(people):
    engagement = reach(people, "sow-sent")
    assert_refused(lambda: workflow.ps_opportunity_close_won(user=people["sal"], ps_opportunity=engagement.ps),
                   "sow-not-signed")


def test_closed_won_twice_makes_one_project(people):
    engagement = reach(people, "won")
    assert_refused(lambda: workflow.ps_opportunity_close_won(user=people["sal"], ps_opportunity=engagement.ps),
                   "not-ready", "ps-closed")
    assert Project.objects.filter(ps_opportunity=engagement.ps).count() == 1


def test_kick_off_before_staffing(people):
    engagement = reach(people, "won")
    assert_refused(lambda: delivery.project_kick_off(user=people["psmanager"], project=engagement.project,
                                                     kickoff_date=TODAY()), "project-not-staffed")


def test_progress_before_delivery(people):
    engagement = reach(people, "kicked-off")
    assert_refused(lambda: delivery.project_set_progress(user=people["pse"], project=engagement.project, percent=20),
                   "project-not-in-delivery")


@pytest.mark.parametrize("stage", ["kicked-off", "completion-asked"])
def test_completion_asked_outside_delivery(people, stage):
    engagement = reach(people, stage)
    assert_refused(lambda: delivery.completion_request(user=people["pse"], project=engagement.project,
                                                       contact=engagement.contact), "project-not-in-delivery")


def test_completion_accepted_twice(people):
    engagement = reach(people, "completed")
    assert_refused(lambda: delivery.completion_accept(customer=engagement.buyer, request=engagement.completion,
                                                      name="Casey Customer", title="VP Engineering"),
                   "already-answered")


def test_silence_is_not_acceptance_before_the_deadline(people):
    engagement = reach(people, "completion-asked")
    assert_refused(lambda: delivery.completion_accept(customer=None, request=engagement.completion),
                   "not-yet-passive")


@pytest.mark.parametrize("stage", ["in-delivery", "completion-asked"])
def test_wrap_up_before_completion(people, stage):
    engagement = reach(people, stage)
    assert_refused(lambda: workflow.wrap_up_start(user=people["pse"], project=engagement.project),
                   "project-not-completed")


def test_wrap_up_started_twice(people):
    engagement = reach(people, "wrap-up")
    assert_refused(lambda: workflow.wrap_up_start(user=people["pse"], project=engagement.project), "wrap-up-exists")


def test_wrap_up_finished_with_items_left(people):
    engagement = reach(people, "wrap-up")
    error = assert_refused(lambda: workflow.wrap_up_finish(user=people["pse"], wrap=engagement.wrap),
                           "wrap-up-incomplete")
    assert "Project summary sent to the customer" in error.message


def test_sign_off_before_completion(people):
    engagement = reach(people, "completion-asked")
    assert_refused(lambda: delivery.sign_off_send(user=people["sal"], project=engagement.project,
                                                  contact=engagement.contact), "project-not-completed")


def test_sign_off_sent_twice_while_waiting(people):
    engagement = reach(people, "wrap-up-ready")
    assert_refused(lambda: delivery.sign_off_send(user=people["sal"], project=engagement.project,
                                                  contact=engagement.contact), "already-asked")


def test_project_closed_before_the_sign_off(people):
    engagement = reach(people, "wrapped-up")
    assert_refused(lambda: delivery.project_close(user=people["psmanager"], project=engagement.project),
                   "no-sign-off")


def test_change_order_on_a_wrapped_up_project(people):
    engagement = reach(people, "wrapped-up")
    assert_refused(lambda: workflow.change_order_add(user=people["psmanager"], project=engagement.project,
                                                     description="More", amount="1000"), "project-not-open")


def test_invoice_issued_twice(people):
    engagement = reach(people, "invoiced")
    assert_refused(lambda: billing.invoice_issue(user=people["finance"], invoice=engagement.invoice),
                   "invoice-not-draft")


def test_an_issued_invoice_is_not_voided(people):
    engagement = reach(people, "invoiced")
    assert_refused(lambda: billing.invoice_void(user=people["finance"], invoice=engagement.invoice, reason="Oops"),
                   "invoice-not-draft")


def test_voiding_needs_a_reason(people):
    engagement = reach(people, "won")
    assert_refused(lambda: billing.invoice_void(user=people["finance"], invoice=engagement.invoice, reason=""),
                   "reason-required")


def test_payment_on_a_draft_invoice(people):
    engagement = reach(people, "won")
    assert_refused(lambda: billing.payment_record(user=people["finance"], invoice=engagement.invoice, amount="100",
                                                  received_on=TODAY()), "invoice-not-open")


def test_write_off_decided_twice(people):
    engagement = reach(people, "write-off-requested")
    billing.write_off_decide(user=people["controller"], write_off=engagement.write_off, approve=False)
    assert_refused(lambda: billing.write_off_decide(user=people["controller"], write_off=engagement.write_off,
                                                    approve=True), "already-decided")


def test_collections_after_the_balance_is_paid(people):
    engagement = reach(people, "wrapped-up")
    billing.payment_record(user=people["finance"], invoice=engagement.invoice, amount="40000",
                           received_on=TODAY())
    engagement.case.refresh_from_db()
    assert_refused(lambda: billing.collection_remind(user=people["finance"], case=engagement.case),
                   "collection-closed")


def test_no_reminder_while_disputed(people):
    engagement = reach(people, "wrapped-up")
    billing.collection_dispute(user=people["finance"], case=engagement.case, note="Travel costs disputed")
    assert_refused(lambda: billing.collection_remind(user=people["finance"], case=engagement.case), "disputed")
    assert_refused(lambda: billing.collection_dispute(user=people["finance"], case=engagement.case,
                                                      note="Again"), "dispute-state")


# --- Contacts of another account ---------------------------------------------------------------------------------

# act -> (stage, act(engagement, customer actor))
LINK_ACTS = {
    "quote_accept": ("quote-sent", lambda e, c: sales.quote_accept(customer=c, quote=e.quote)),
    "quote_decline": ("quote-sent", lambda e, c: sales.quote_decline(customer=c, quote=e.quote, reason="No")),
    "sow_sign": ("sow-sent", lambda e, c: sales.sow_sign(customer=c, sow=e.sow, name="Mallory Other",
                                                         title="CEO")),
    "sow_request_changes": ("sow-sent", lambda e, c: sales.sow_request_changes(customer=c, sow=e.sow,
                                                                               changes="Halve the price")),
    "completion_accept": ("completion-asked", lambda e, c: delivery.completion_accept(
        customer=c, request=e.completion, name="Mallory Other", title="CEO")),
    "completion_reject": ("completion-asked", lambda e, c: delivery.completion_reject(
        customer=c, request=e.completion, reason="Not done")),
    "sign_off_sign": ("wrap-up-ready", lambda e, c: delivery.sign_off_sign(
        customer=c, request=e.sign_off, name="Mallory Other", title="CEO")),
    "milestone_accept": ("in-delivery", lambda e, c: workflow.milestone_accept(
        customer=c, project=e.project, milestone=e.sow.milestones.first())),
}


@pytest.mark.parametrize("act", list(LINK_ACTS))
def test_a_contact_of_another_account_cannot_answer(people, stranger, act):
    stage, run = LINK_ACTS[act]
    engagement = reach(people, stage, billing_terms="milestones" if act == "milestone_accept" else
                       "full-on-signature")
    assert_refused(lambda: run(engagement, customer(stranger)), "forbidden")


# staff act -> (stage, act(engagement, contact))
SENDS = {
    "quote_send": ("quote-approved", lambda e, c: sales.quote_send(user=e.people["sal"], quote=e.quote, contact=c)),
    "sow_send": ("sow-approved", lambda e, c: sales.sow_send(user=e.people["pse"], sow=e.sow, contact=c)),
    "completion_request": ("in-delivery", lambda e, c: delivery.completion_request(
        user=e.people["pse"], project=e.project, contact=c)),
    "sign_off_send": ("completed", lambda e, c: delivery.sign_off_send(user=e.people["sal"], project=e.project,
                                                                       contact=c)),
}


@pytest.mark.parametrize("act", list(SENDS))
def test_nothing_is_sent_to_a_contact_of_another_account(people, stranger, act):
    stage, run = SENDS[act]
    engagement = reach(people, stage)
    assert_refused(lambda: run(engagement, stranger), "wrong-contact")


def test_no_time_on_a_cancelled_project(people):
    engagement = reach(people, "in-delivery")
    delivery.project_cancel(user=people["psmanager"], project=engagement.project, reason="customer stopped")
    assert_refused(lambda: delivery.time_log(user=people["pse"], project=engagement.project, date=TODAY(),
                                             hours="2"), "project-not-in-delivery")
