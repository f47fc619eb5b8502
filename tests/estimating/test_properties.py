"""Properties that hold for any answers: low <= high, the lines add up to the totals, the review flag is exact."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from psops.core.errors import ApplicationError
from psops.estimating.calculator import (
    FLAG_ENGAGEMENT_MANAGER,
    FLAG_TECHNICAL_REVIEW,
    IMPLEMENTATION,
    PRICE_BOOK,
    SM_TO_SAAS,
    calculate,
    parse_whole_number,
    tables_from_csv,
)

TABLES = tables_from_csv()
SKUS = sorted(TABLES.price_book.items)


def check(estimate):
    if estimate.low is None:
        assert estimate.high is None
        return
    assert estimate.low <= estimate.high
    assert sum((line.low for line in estimate.lines), Decimal(0)) == estimate.low
    assert sum((line.high for line in estimate.lines), Decimal(0)) == estimate.high
    for line in estimate.lines:
        assert line.quantity > 0
        assert Decimal(0) <= line.low <= line.high
        assert line.low == line.low.quantize(Decimal("0.01"))
    assert (FLAG_TECHNICAL_REVIEW in estimate.flag_codes) is (estimate.high > Decimal(50000))
    data = estimate.as_dict()
    assert Decimal(data["low"]) == estimate.low and Decimal(data["high"]) == estimate.high


@settings(max_examples=300, deadline=None)
@given(users=st.integers(0, 4000), projects=st.integers(0, 12000), large_repos=st.integers(0, 500),
       as_text=st.booleans())
def test_migration(users, projects, large_repos, as_text):
    answers = {"users": users, "projects": projects, "large_repos": large_repos}
    if as_text:
        answers = {k: str(v) for k, v in answers.items()}
    estimate = calculate(SM_TO_SAAS, answers, TABLES)
    check(estimate)
    beyond = users > 3000 or projects > 10000
    assert (estimate.low is None) is beyond
    assert (FLAG_ENGAGEMENT_MANAGER in estimate.flag_codes) is beyond


@settings(max_examples=300, deadline=None)
@given(quantities=st.dictionaries(st.sampled_from(SKUS), st.integers(0, 40), max_size=6),
       attendees=st.none() | st.integers(0, 60))
def test_price_book(quantities, attendees):
    answers = dict(quantities)
    if attendees is not None:
        answers["attendees"] = attendees
    try:
        estimate = calculate(PRICE_BOOK, answers, TABLES)
    except ApplicationError as exc:
        assert exc.code == "empty-rom"
        assert not any(quantities.values())
        return
    check(estimate)
    assert estimate.low == estimate.high


@settings(max_examples=300, deadline=None)
@given(instances=st.integers(0, 20), ha_geo=st.integers(0, 1), integrations=st.integers(0, 50),
       ci_templates=st.integers(0, 50), runner_fleets=st.integers(0, 50), workshops=st.integers(0, 50))
def test_implementation(**answers):
    try:
        estimate = calculate(IMPLEMENTATION, answers, TABLES)
    except ApplicationError as exc:
        assert exc.code == "empty-rom"
        assert not any(answers.values())
        return
    check(estimate)


@given(st.integers(0, 1_000_000))
def test_whole_numbers_round_trip(value):
    assert parse_whole_number("n", str(value)) == value
    assert parse_whole_number("n", value) == value


@given(st.text())
def test_any_text_is_a_whole_number_or_a_precise_refusal(text):
    try:
        value = parse_whole_number("n", text)
    except ApplicationError as exc:
        assert exc.code in {"not-a-whole-number", "negative-number", "number-too-large"}
    else:
        assert value >= 0
