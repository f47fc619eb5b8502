"""One money type and one quantity type at every door, and the database holding the same bound.

A huge number (1e20, 99999999999999.99), NaN, Infinity, a negative, too many places or an exponent form, given to
any service or form field that takes money or a quantity, is refused with a coded message naming the field (and, for
a number too big, the bound) and changes nothing; what is accepted fits its column. The database refuses a direct
out-of-range write, and `psops check_amounts` finds a bad row planted beneath the constraints.

Example budgets: the parsers and form fields run 200 examples each (no database); every service door runs 4 random
bad values plus the four from the bug report.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django import forms
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from psops.activity.models import TimelineEvent
from psops.approvals import services as approvals
from psops.billing import services as billing
from psops.billing.models import Invoice, Payment
from psops.core.errors import ApplicationError
from psops.core.formfields import MoneyFormField, QuantityFormField
from psops.core.money import parse_amount
from psops.core.quantities import (
    COUNT,
    DAYS,
    HOURS,
    HOURS_IN_A_DAY,
    MONEY,
    PERCENT,
    bounded_constraints,
    column_of,
    parse,
    refuse_stored_out_of_range,
)
from psops.crm import services as crm
from psops.crm.models import Opportunity
from psops.delivery import services as delivery
from psops.delivery.models import ChangeOrder, Project, WrapUp
from psops.estimating import services as estimating
from psops.estimating.calculator import PRICE_BOOK, calculate, tables_from_csv
from psops.sales import services as sales
from psops.workflow import services as workflow
from tests.factories import assert_refused, make_staff, reach

# --- What a person may type ----------------------------------------------------------------------------------------

def _is_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except Exception:  # noqa: BLE001 - any failure means "not a number", which is what the strategy wants
        return False
    return True


# The values from the bug report (and "1,", once taken for 1 on the milestones door), then strategies for each kind
# of bad number.
REPORTED = ["1e20", "99999999999999999", "99999999999999.99", "NaN", "1,"]
huge = st.one_of(
    st.integers(min_value=10**9, max_value=10**40).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(1, 9), st.integers(10, 999_999)),
    st.builds(lambda m, e: f"{m}E+{e}", st.integers(1, 999), st.integers(9, 60)),
    st.sampled_from(["1000000000", "999999999.999", "99999999999999.99", "1e20", "9" * 70]),
)
not_finite = st.sampled_from(["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "+Inf", "-inf"])
negative = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("-0.01"), places=2).map(str)
too_precise = st.builds(lambda whole, extra: f"{whole}.{extra:03d}1", st.integers(0, 9999), st.integers(0, 999))
garbage = st.one_of(st.text(max_size=12).filter(lambda t: not _is_number(t)),
                    st.sampled_from(["12,000", "1 000", "", "--1", "1e", "0x10"]))
bad_numbers = st.one_of(huge, not_finite, negative, too_precise, garbage)


def _in_range_fitting(bound, places):
    """Numbers within `bound` with at most `places` places, typed plainly or in an exponent form."""
    value = st.decimals(min_value=bound.minimum, max_value=bound.maximum, places=places, allow_nan=False,
                        allow_infinity=False)
    return st.tuples(value, st.sampled_from(["plain", "exponent"])).map(
        lambda pair: (pair[0], format(pair[0], "f") if pair[1] == "plain" else f"{pair[0]:E}"))


BOUNDS = {"money": MONEY, "hours": HOURS, "hours in a day": HOURS_IN_A_DAY, "percent": PERCENT, "days": DAYS,
          "count": COUNT}


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(sorted(BOUNDS)), raw=bad_numbers)
@example(kind="money", raw="1e20")
@example(kind="money", raw="99999999999999.99")
@example(kind="hours", raw="1e20")
@example(kind="money", raw="NaN")
def test_a_bad_number_is_refused_with_a_message_naming_the_field(kind, raw):
    bound = BOUNDS[kind]
    with pytest.raises(ApplicationError) as refused:
        parse(raw, bound, field="the test field")
    error = refused.value
    assert error.field == "the test field" and "the test field" in error.message.lower()
    assert error.code in (bound.invalid_code, bound.range_code)
    assert len(error.message) < 200
    if _too_big(raw, bound):
        assert error.code == bound.range_code and bound.show(bound.maximum) in error.message


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(BOUNDS)).flatmap(lambda k: st.tuples(st.just(k), _in_range_fitting(BOUNDS[k],
                                                                                                     BOUNDS[k].places))))
def test_a_number_that_fits_is_taken_as_typed(pair):
    kind, (value, typed) = pair
    assert parse(typed, BOUNDS[kind], field="x") == value


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(bad_numbers, st.floats(), st.booleans(), st.none()),
       currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]))
@example(raw="1e20", currency="USD")
@example(raw="12.5", currency="JPY")
def test_parse_amount_refuses_what_no_amount_column_could_hold(raw, currency):
    with pytest.raises(ApplicationError) as refused:
        parse_amount(raw, currency, field="payment")
    assert refused.value.code in ("invalid-amount", "amount-out-of-range")
    assert "payment" in refused.value.message.lower()


class _Fields(forms.Form):
    amount = MoneyFormField(label="Amount promised")
    hours = QuantityFormField(bound=HOURS, label="Budget hours", required=False)
    percent = QuantityFormField(bound=PERCENT, label="Discount (%)", required=False)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["amount", "hours", "percent"]), raw=bad_numbers)
@example(field="amount", raw="1e20")
@example(field="hours", raw="1e20")
@example(field="amount", raw="99999999999999.99")
def test_form_fields_refuse_bad_numbers_beside_the_field(field, raw):
    assume(raw.strip() != "" or field == "amount")  # blank is fine for the optional ones
    data = {"amount": "10", "hours": "", "percent": "", field: raw}
    form = _Fields(data)
    assert not form.is_valid()
    errors = form.errors[field]
    label = str(form.fields[field].label)
    names = (label, label.replace("(%)", "(percent)"))
    assert errors and all(any(name in message for name in names) or "required" in message for message in errors), errors
    bound = form.fields[field].bound
    if _too_big(raw, bound):
        assert any(bound.show(bound.maximum) in message for message in errors)


def test_a_model_form_of_a_money_column_gets_the_bounded_field():
    field = Opportunity._meta.get_field("amount").formfield()
    assert isinstance(field, MoneyFormField)
    assert not field.widget.is_hidden and field.max_value == MONEY.maximum


# --- Every column holds its bound ----------------------------------------------------------------------------------

# Integer columns that are quantities a person gives (the others are counters and ids the system keeps).
INTEGER_QUANTITIES = {"delivery.Project.percent_complete", "sales.Sow.net_days", "billing.Invoice.net_days",
                      "sales.QuoteLine.quantity", "estimating.MigrationMatrix.large_repo_block_size",
                      "estimating.MigrationBand.users_max", "estimating.MigrationBand.projects_max"}


def _psops_models():
    return [m for m in apps.get_models() if m.__module__.startswith("psops.")]


def test_every_money_and_quantity_column_has_a_bound_constraint():
    missing = []
    for model in _psops_models():
        bounded = {column_of(c.condition) for c in bounded_constraints(model)}
        for field in model._meta.concrete_fields:
            label = f"{model._meta.label}.{field.name}"
            if (isinstance(field, models.DecimalField) or label in INTEGER_QUANTITIES) and field.name not in bounded:
                missing.append(label)
    assert not missing, f"columns without a bound constraint: {missing}"


@pytest.mark.django_db
def test_the_database_has_every_bound_constraint():
    with connection.cursor() as cursor:
        for model in _psops_models():
            names = set(connection.introspection.get_constraints(cursor, model._meta.db_table))
            for constraint in bounded_constraints(model):
                # SQLite keeps check constraints in the table's SQL, without their names in introspection
                if connection.vendor == "postgresql":
                    assert constraint.name in names
                else:
                    cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [model._meta.db_table])
                    assert constraint.name in cursor.fetchone()[0]


# --- Services: every door that takes money or a quantity ----------------------------------------------------------

TODAY = timezone.localdate


def later(days=30):
    return timezone.localdate() + dt.timedelta(days=days)


# door -> (engagement key, call(engagement, value), the field's words in the message, the bound a huge value breaks)
DOORS = {
    "opportunity_create amount": ("deal", lambda e, v: crm.opportunity_create(
        user=e.people["sal"], account=e.account, name="Deal", close_date=later(), segment="smb", amount=v),
        "amount", MONEY),
    "ps_opportunity_create": ("deal", lambda e, v: crm.ps_opportunity_create(
        user=e.people["sal"], parent=e.opp, name="PS", ps_amount=v), "ps amount", MONEY),
    "ps_opportunity_set_amount": ("ps", lambda e, v: crm.ps_opportunity_set_amount(
        user=e.people["sal"], ps_opportunity=e.ps, ps_amount=v), "ps amount", MONEY),
    "rom_estimate_manual low": ("manual", lambda e, v: estimating.rom_estimate_manual(
        user=e.people["psmanager"], rom=e.big_rom, low=v, high="500000", note="Sized by hand"), "low", MONEY),
    "rom_estimate_manual high": ("manual", lambda e, v: estimating.rom_estimate_manual(
        user=e.people["psmanager"], rom=e.big_rom, low="1000", high=v, note="Sized by hand"), "high", MONEY),
    "rom_create answers": ("deal", lambda e, v: estimating.rom_create(
        user=e.people["sa"], opportunity=e.opp, template="price-book", answers={"GL-RR-SELF": v}), "gl-rr-self",
        COUNT),
    "quote_create discount": ("rom-approved", lambda e, v: sales.quote_create(
        user=e.people["sal"], ps_opportunity=e.ps, valid_until=later(), discount_percent=v), "discount", PERCENT),
    "sow_update hourly_rate": ("sow", lambda e, v: sales.sow_update(user=e.people["pse"], sow=e.sow, hourly_rate=v),
                               "hourly rate", MONEY),
    "sow_update milestone": ("sow", lambda e, v: sales.sow_update(
        user=e.people["pse"], sow=e.sow, billing_terms="milestones", milestones=[("All of it", v)]),
        "milestone amount", MONEY),
    "project_kick_off budget_hours": ("staffed", lambda e, v: delivery.project_kick_off(
        user=e.people["psmanager"], project=e.project, kickoff_date=TODAY(), budget_hours=v), "budget hours", HOURS),
    "time_log hours": ("in-delivery", lambda e, v: delivery.time_log(
        user=e.people["pse"], project=e.project, date=TODAY(), hours=v), "hours", HOURS_IN_A_DAY),
    "change_order_add": ("in-delivery", lambda e, v: workflow.change_order_add(
        user=e.people["psmanager"], project=e.project, description="More sites", amount=v), "change order amount",
        MONEY),
    "wrap_up_tick actual_hours": ("wrap-up", lambda e, v: delivery.wrap_up_tick(
        user=e.people["pse"], wrap=e.wrap, code="hours-cost", actual_hours=v, actual_cost="15000"), "actual hours",
        HOURS),
    "wrap_up_tick actual_cost": ("wrap-up", lambda e, v: delivery.wrap_up_tick(
        user=e.people["pse"], wrap=e.wrap, code="hours-cost", actual_hours="100", actual_cost=v), "actual cost",
        MONEY),
    "payment_record": ("wrapped-up", lambda e, v: billing.payment_record(
        user=e.people["finance"], invoice=e.invoice, amount=v, received_on=TODAY()), "payment", MONEY),
    "credit_note_issue": ("wrapped-up", lambda e, v: billing.credit_note_issue(
        user=e.people["finance"], invoice=e.invoice, amount=v, reason="Late start"), "credit", MONEY),
    "write_off_request": ("wrapped-up", lambda e, v: billing.write_off_request(
        user=e.people["finance"], invoice=e.invoice, amount=v, reason="Goodwill"), "write-off", MONEY),
    "collection_promise": ("wrapped-up", lambda e, v: billing.collection_promise(
        user=e.people["finance"], case=e.case, amount=v, promised_for=later(7)), "promised amount", MONEY),
    "policy_publish high_over": ("deal", lambda e, v: approvals.policy_publish(
        user=e.people["admin"], rules=[{"code": "big", "applies_to": ["rom"], "when": {"high_over": v},
                                        "approvers": ["dir_cs"]}]), "high_over", MONEY),
}
STAGES = {"deal": "deal", "ps": "ps", "manual": "deal", "rom-approved": "rom-approved", "sow": "sow",
          "staffed": "staffed", "in-delivery": "in-delivery", "wrap-up": "wrap-up", "wrapped-up": "wrapped-up"}


def _too_big(raw, bound) -> bool:
    """A number beyond the bound, written as the bound's own kind of number (a count in digits only)."""
    if not isinstance(raw, str) or not _is_number(raw) or (bound is COUNT and not raw.strip().isdigit()):
        return False
    value = Decimal(raw.strip())
    return value.is_finite() and value > bound.maximum


def _refused_well(door: str, engagement, raw) -> None:
    _, act, words, bound = DOORS[door]
    error = assert_refused(lambda: act(engagement, raw))
    assert words in error.message.lower(), f"{door}: {error.message!r} does not name {words!r}"
    if _too_big(raw, bound):
        assert bound.show(bound.maximum) in error.message, f"{door}: {error.message!r} does not state the bound"
    # assert_refused compared every row before and after: nothing was stored, so nothing out of bounds either.


class ServiceDoors(TestCase):
    """Each door knocked with bad numbers; every refusal coded, worded and without a trace in the database."""

    @classmethod
    def setUpTestData(cls):
        people = make_staff()
        cls.engagements = {}
        for key, stage in STAGES.items():
            cls.engagements[key] = reach(people, stage, name=f"Bound {key} Co")
        manual = cls.engagements["manual"]
        manual.big_rom = estimating.rom_create(user=people["sa"], opportunity=manual.opp, template="sm-to-saas",
                                               answers={"users": 5000, "projects": 10})


def _door_test(door):
    @settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=bad_numbers if DOORS[door][3] is not COUNT else st.one_of(huge, negative, garbage))
    def test(self, raw):
        _refused_well(door, self.engagements[DOORS[door][0]], raw)

    for raw in REPORTED:
        test = example(raw=raw)(test)
    test.__name__ = f"test_{door.replace(' ', '_')}"
    return test


for _door in DOORS:
    setattr(ServiceDoors, f"test_{_door.replace(' ', '_')}", _door_test(_door))


@pytest.mark.django_db
def test_a_promise_to_pay_is_above_zero_and_within_what_is_owed():
    people = make_staff()
    e = reach(people, "wrapped-up")
    owed = billing.outstanding(e.project)
    assert owed > 0
    for amount, code in [("0", "invalid-amount"), (str(owed + Decimal("0.01")), "over-promise"),
                         ("1e20", "amount-out-of-range")]:
        assert_refused(lambda amount=amount: billing.collection_promise(
            user=people["finance"], case=e.case, amount=amount, promised_for=later(7)), code)
    action = billing.collection_promise(user=people["finance"], case=e.case, amount=str(owed), promised_for=later(7))
    assert action.amount == owed


@pytest.mark.django_db
def test_change_orders_keep_the_engagement_within_one_amount():
    people = make_staff()
    e = reach(people, "in-delivery")
    room = MONEY.maximum - delivery.project_value(e.project)
    error = assert_refused(lambda: workflow.change_order_add(user=people["psmanager"], project=e.project,
                                                             description="Huge", amount=str(room + 1)),
                           "amount-out-of-range")
    assert MONEY.show(MONEY.maximum) in error.message
    order = workflow.change_order_add(user=people["psmanager"], project=e.project, description="All the rest",
                                      amount=str(room))
    e.ps.refresh_from_db()
    assert delivery.project_value(e.project) == MONEY.maximum == e.ps.ps_amount
    assert e.project.invoices.get(billing_key=f"change-order:{order.pk}").amount == room


def test_an_estimate_above_one_amount_is_refused():
    with pytest.raises(ApplicationError) as refused:
        calculate(PRICE_BOOK, {"GL-RR-SELF": 1_000_000}, tables_from_csv())
    assert refused.value.code == "amount-out-of-range" and MONEY.show(MONEY.maximum) in refused.value.message


@pytest.mark.django_db
def test_the_rom_command_exits_non_zero_on_an_estimate_above_one_amount():
    with pytest.raises(CommandError) as refused:
        call_command("rom", "price-book", "GL-RR-SELF=1000000", stdout=StringIO())
    assert refused.value.returncode == 2 and "amount-out-of-range" in str(refused.value)


# --- The database refuses what bypasses the services ---------------------------------------------------------------


@pytest.fixture
def engagement(db):
    return reach(make_staff(), "wrap-up")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field", "value"), [
    (ChangeOrder, "amount", Decimal("1e20")),
    (ChangeOrder, "amount", Decimal("99999999999999.99")),
    (Project, "budget_hours", Decimal("100000.01")),
    (WrapUp, "actual_cost", Decimal("1000000000")),
    (Invoice, "amount", Decimal("99999999999999.99")),
    (Invoice, "net_days", 10**6),
    (Opportunity, "amount", Decimal("-0.01")),
])
def test_the_database_refuses_a_direct_out_of_range_write(engagement, model, field, value):
    row = {ChangeOrder: lambda: workflow.change_order_add(user=engagement.people["psmanager"],
                                                          project=engagement.project, description="x", amount="10"),
           Project: lambda: engagement.project, WrapUp: lambda: engagement.wrap,
           Invoice: lambda: engagement.project.invoices.first(), Opportunity: lambda: engagement.opp}[model]()
    # The bound's check constraint refuses it (IntegrityError); on PostgreSQL a value beyond the column's own
    # precision is refused even before the constraint is asked (DataError: numeric field overflow).
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field: value})


# --- Stored values already out of range: found, listed, and the pages keep working --------------------------------


def _plant(table: str, column: str, pk: int, value: str) -> None:
    """Write beneath the constraints, as a restored old backup or hand-typed SQL would (SQLite only)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = 1")
        try:
            cursor.execute(f'UPDATE "{table}" SET "{column}" = {value} WHERE id = %s', [pk])
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = 0")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="plants rows beneath SQLite's check constraints")
def test_check_amounts_reports_planted_rows_and_exits_non_zero(engagement):
    out = StringIO()
    call_command("check_amounts", stdout=out)
    assert "within their bounds" in out.getvalue()

    order = workflow.change_order_add(user=engagement.people["psmanager"], project=engagement.project,
                                      description="x", amount="10")
    payment = billing.payment_record(user=engagement.people["finance"], invoice=engagement.invoice, amount="10",
                                     received_on=TODAY())
    _plant("delivery_changeorder", "amount", order.pk, "1e20")
    _plant("delivery_project", "budget_hours", engagement.project.pk, "1e20")
    _plant("billing_payment", "amount", payment.pk, "'NaN'")
    _plant("billing_invoice", "amount", engagement.invoice.pk, "99999999999999.99")
    with pytest.raises(Exception):  # noqa: B017 - what the bug looked like: the ORM cannot even read the row
        list(ChangeOrder.objects.filter(pk=order.pk))

    out = StringIO()
    with pytest.raises(CommandError) as broken:
        call_command("check_amounts", stdout=out)
    assert broken.value.returncode == 1 and "4 stored value(s)" in str(broken.value)
    report = out.getvalue()
    for line in (f"delivery_changeorder.amount id={order.pk}", f"delivery_project.budget_hours "
                 f"id={engagement.project.pk}", f"billing_payment.amount id={payment.pk}: 'NaN'",
                 f"billing_invoice.amount id={engagement.invoice.pk}"):
        assert line in report, report
    # A migration adding these bounds to a database holding such rows stops with the same list.
    with pytest.raises(ApplicationError) as stopped:
        refuse_stored_out_of_range(Payment, bounded_constraints(Payment))
    assert f"billing_payment.amount id={payment.pk}" in stopped.value.message
    assert TimelineEvent.objects.exists()
