"""The calculator's rules against the package tables (no database)."""

import csv
import dataclasses
from decimal import Decimal
from importlib import resources

import pytest

from psops.core.errors import ApplicationError
from psops.estimating.calculator import (
    FLAG_ENGAGEMENT_MANAGER,
    FLAG_TECHNICAL_REVIEW,
    FLAG_TRAVEL,
    IMPLEMENTATION,
    LINE_LARGE_REPOS,
    LINE_MANAGEMENT,
    LINE_MIGRATION,
    PRICE_BOOK,
    SEAT_SKU,
    SM_TO_SAAS,
    TEMPLATES,
    Estimate,
    Flag,
    Line,
    PriceBookEntry,
    calculate,
    parse_whole_number,
    questions_for,
)


def _matrix_rows():
    text = resources.files("psops.estimating").joinpath("data", "sm-to-saas-rom.csv").read_text()
    return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(text.splitlines())]


MATRIX = _matrix_rows()
USERS_BOUNDS = sorted({r["users_max"] for r in MATRIX})
PROJECTS_BOUNDS = sorted({r["projects_max"] for r in MATRIX})
CELL = {(r["users_max"], r["projects_max"]): (Decimal(r["low_usd"]), Decimal(r["high_usd"])) for r in MATRIX}


def _ids(row):
    return f"{row['users_max']}u-{row['projects_max']}p"


def migration(tables, **answers):
    return calculate(SM_TO_SAAS, answers, tables)


def test_package_data_matches_the_shared_facts():
    assert len(MATRIX) == 40
    assert USERS_BOUNDS == [500, 1000, 2000, 3000]
    assert list(range(1000, 10001, 1000)) == PROJECTS_BOUNDS


# --------------------------------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("row", MATRIX, ids=_ids)
def test_every_cell_at_its_exact_bounds(tables, row):
    estimate = migration(tables, users=row["users_max"], projects=row["projects_max"])
    assert (estimate.low, estimate.high) == (row["low_usd"], row["high_usd"])
    assert [line.code for line in estimate.lines] == [LINE_MIGRATION]
    assert estimate.lines[0].quantity == 1
    assert FLAG_ENGAGEMENT_MANAGER not in estimate.flag_codes


@pytest.mark.parametrize("row", MATRIX, ids=_ids)
def test_every_cell_starts_just_above_the_previous_bounds(tables, row):
    u, p = USERS_BOUNDS.index(row["users_max"]), PROJECTS_BOUNDS.index(row["projects_max"])
    users = USERS_BOUNDS[u - 1] + 1 if u else 0
    projects = PROJECTS_BOUNDS[p - 1] + 1 if p else 0
    estimate = migration(tables, users=users, projects=projects)
    assert (estimate.low, estimate.high) == (row["low_usd"], row["high_usd"])


@pytest.mark.parametrize("row", [r for r in MATRIX if r["users_max"] != USERS_BOUNDS[-1]], ids=_ids)
def test_users_bound_plus_one_moves_to_the_next_users_band(tables, row):
    next_users = USERS_BOUNDS[USERS_BOUNDS.index(row["users_max"]) + 1]
    estimate = migration(tables, users=row["users_max"] + 1, projects=row["projects_max"])
    assert (estimate.low, estimate.high) == CELL[(next_users, row["projects_max"])]


@pytest.mark.parametrize("row", [r for r in MATRIX if r["projects_max"] != PROJECTS_BOUNDS[-1]], ids=_ids)
def test_projects_bound_plus_one_moves_to_the_next_projects_band(tables, row):
    next_projects = PROJECTS_BOUNDS[PROJECTS_BOUNDS.index(row["projects_max"]) + 1]
    estimate = migration(tables, users=row["users_max"], projects=row["projects_max"] + 1)
    assert (estimate.low, estimate.high) == CELL[(row["users_max"], next_projects)]


@pytest.mark.parametrize(("users", "projects"), [(0, 0), (0, 1000), (500, 0), (1, 1)])
def test_zero_and_one_fall_in_the_first_band(tables, users, projects):
    estimate = migration(tables, users=users, projects=projects)
    assert (estimate.low, estimate.high) == (Decimal("30000.00"), Decimal("40000.00"))
    assert "up to 500 users and 1,000 projects" in estimate.lines[0].description


def test_answers_may_be_strings_with_spaces(tables):
    estimate = calculate(SM_TO_SAAS, {"users": " 600 ", "projects": "+1500", "large_repos": "0"}, tables)
    assert (estimate.low, estimate.high) == (Decimal("55000"), Decimal("65000"))
    assert estimate.answers == {"users": 600, "projects": 1500, "large_repos": 0}


# --------------------------------------------------------------------------------------------- large repositories


@pytest.mark.parametrize(("large_repos", "blocks"), [(0, 0), (1, 1), (10, 1), (11, 2), (20, 2), (21, 3)])
def test_large_repositories_count_by_started_block_of_ten(tables, large_repos, blocks):
    estimate = migration(tables, users=100, projects=100, large_repos=large_repos)
    extra = [line for line in estimate.lines if line.code == LINE_LARGE_REPOS]
    if blocks == 0:
        assert extra == []
    else:
        assert len(extra) == 1
        assert extra[0].quantity == blocks
        assert extra[0].low == extra[0].high == Decimal(12000 * blocks)
    assert estimate.low == Decimal(30000 + 12000 * blocks)
    assert estimate.high == Decimal(40000 + 12000 * blocks)


def test_large_repositories_default_to_zero(tables):
    assert migration(tables, users=100, projects=100).answers["large_repos"] == 0


# ---------------------------------------------------------------------------------------------------------- flags


@pytest.mark.parametrize(("users", "projects"), [(3001, 1), (1, 10001), (3001, 10001), (1_000_000, 0)])
def test_beyond_the_matrix_an_engagement_manager_estimates(tables, users, projects):
    estimate = migration(tables, users=users, projects=projects, large_repos=30)
    assert estimate.low is None and estimate.high is None
    assert estimate.lines == ()
    assert estimate.flag_codes == [FLAG_ENGAGEMENT_MANAGER]
    assert "engagement manager" in estimate.flags[0].message
    assert estimate.as_dict()["low"] is None and estimate.as_dict()["high"] is None


def test_the_largest_cell_is_still_priced(tables):
    estimate = migration(tables, users=3000, projects=10000)
    assert (estimate.low, estimate.high) == (Decimal(210000), Decimal(220000))
    assert FLAG_ENGAGEMENT_MANAGER not in estimate.flag_codes
    assert FLAG_TECHNICAL_REVIEW in estimate.flag_codes


def _with_item(tables, sku, price):
    book = tables.price_book
    items = {**book.items, sku: PriceBookEntry(sku, "Test item", "consulting", "each", Decimal(price), "remote")}
    return dataclasses.replace(tables, price_book=dataclasses.replace(book, items=items))


def test_technical_review_exactly_at_50000_is_not_flagged(tables):
    estimate = calculate(PRICE_BOOK, {"GL-CICD-R": 10}, tables)
    assert estimate.high == Decimal("50000.00")
    assert FLAG_TECHNICAL_REVIEW not in estimate.flag_codes


@pytest.mark.parametrize("price", ["50000.01", "50000.005"])
def test_technical_review_just_over_50000_is_flagged(tables, price):
    estimate = calculate(PRICE_BOOK, {"TEST-1": 1}, _with_item(tables, "TEST-1", price))
    assert estimate.high == Decimal("50000.01")
    assert FLAG_TECHNICAL_REVIEW in estimate.flag_codes


def test_technical_review_at_a_cent_below_is_not_flagged(tables):
    estimate = calculate(PRICE_BOOK, {"TEST-1": 1}, _with_item(tables, "TEST-1", "49999.99"))
    assert estimate.flag_codes == []


def test_technical_review_threshold_comes_from_the_tables(tables):
    raised = dataclasses.replace(tables, technical_review_over=Decimal("60000"))
    assert FLAG_TECHNICAL_REVIEW not in calculate(PRICE_BOOK, {"GL-CICD-R": 12}, raised).flag_codes
    assert FLAG_TECHNICAL_REVIEW in calculate(PRICE_BOOK, {"GL-CICD-R": 13}, raised).flag_codes


@pytest.mark.parametrize(("answers", "flagged"), [
    ({"users": 1000, "projects": 1000}, False),  # 35,000-45,000
    ({"users": 500, "projects": 1000, "large_repos": 1}, True),  # 42,000-52,000
    ({"users": 500, "projects": 2000}, True),  # 50,000-60,000
])
def test_technical_review_on_migrations(tables, answers, flagged):
    assert (FLAG_TECHNICAL_REVIEW in migration(tables, **answers).flag_codes) is flagged


# ----------------------------------------------------------------------------------------------------- price book


def test_price_book_lines_are_list_price_times_quantity(tables):
    estimate = calculate(PRICE_BOOK, {"GL-CICD-R": "2", "GL-JIRA": 1, "GL-LDAP": 0}, tables)
    assert [(line.code, line.quantity, line.low) for line in estimate.lines] == [
        ("GL-CICD-R", 2, Decimal("10000.00")), ("GL-JIRA", 1, Decimal("2400.00"))]
    assert estimate.low == estimate.high == Decimal("12400.00")
    assert estimate.table_versions == {"price_book": None}
    assert estimate.currency == "USD"


@pytest.mark.parametrize(("answers", "seats"), [
    ({"GL-CICD-R": 1, "attendees": 12}, 0),
    ({"GL-CICD-R": 1, "attendees": 0}, 0),
    ({"GL-CICD-R": 1}, 0),
    ({"GL-CICD-R": 1, "attendees": 13}, 1),
    ({"GL-CICD-R": 2, "attendees": 15}, 6),
    ({"GL-CICD-R": 1, "GL-SEC-R": 1, "attendees": 15}, 6),
    ({"GL-CICD-R": 2, "GL-JIRA": 3, "attendees": 15}, 6),  # an integration is not a session
    ({"GL-DOF": 1, "attendees": 30}, 0),  # a bundle is not priced per session
])
def test_attendees_above_twelve_per_session_buy_seats(tables, answers, seats):
    estimate = calculate(PRICE_BOOK, answers, tables)
    seat_lines = [line for line in estimate.lines if line.code == SEAT_SKU]
    if seats == 0:
        assert seat_lines == []
    else:
        assert [(line.quantity, line.low, line.high) for line in seat_lines] == [
            (seats, Decimal(500 * seats), Decimal(500 * seats))]
    assert estimate.low == estimate.high == sum(line.low for line in estimate.lines)


def test_explicit_seats_and_attendee_seats_make_one_line(tables):
    estimate = calculate(PRICE_BOOK, {SEAT_SKU: 2, "GL-CICD-R": 2, "attendees": 15}, tables)
    assert [(line.code, line.quantity) for line in estimate.lines] == [(SEAT_SKU, 8), ("GL-CICD-R", 2)]
    assert "plus 2 requested" in estimate.lines[0].description


def test_explicit_seats_alone(tables):
    estimate = calculate(PRICE_BOOK, {SEAT_SKU: 3}, tables)
    assert estimate.low == Decimal("1500.00")


def test_skus_match_case_insensitively(tables):
    estimate = calculate(PRICE_BOOK, {"gl-cicd-r": 1, "ATTENDEES": 13}, tables)
    assert [line.code for line in estimate.lines] == ["GL-CICD-R", SEAT_SKU]


def test_on_site_training_bills_travel_separately(tables):
    estimate = calculate(PRICE_BOOK, {"GL-CICD": 1}, tables)
    assert estimate.flag_codes == [FLAG_TRAVEL]
    assert any("Travel" in text for text in estimate.assumptions)
    assert estimate.low == Decimal(7000)


def test_remote_training_has_no_travel(tables):
    estimate = calculate(PRICE_BOOK, {"GL-CICD-R": 1}, tables)
    assert estimate.flags == ()
    assert not any("Travel" in text for text in estimate.assumptions)


# ------------------------------------------------------------------------------------------------- implementation


def _by_code(estimate):
    return {line.code: line for line in estimate.lines}


def test_implementation_default_is_one_instance(tables):
    estimate = calculate(IMPLEMENTATION, {}, tables)
    lines = _by_code(estimate)
    assert list(lines) == ["IMPL-INSTANCE", LINE_MANAGEMENT]
    assert (lines["IMPL-INSTANCE"].low, lines["IMPL-INSTANCE"].high) == (Decimal(10000), Decimal(16000))
    # 10% of 5 days and 15% of 8 days at 2,000 a day.
    assert (lines[LINE_MANAGEMENT].low, lines[LINE_MANAGEMENT].high) == (Decimal(1000), Decimal(2400))
    assert (estimate.low, estimate.high) == (Decimal(11000), Decimal(18400))
    assert estimate.table_versions == {"rate_card": None}
    assert estimate.answers["instances"] == 1


def test_implementation_arithmetic(tables):
    answers = {"instances": 2, "ha_geo": 1, "integrations": 3, "ci_templates": 2, "runner_fleets": 1,
               "workshops": 4}
    estimate = calculate(IMPLEMENTATION, answers, tables)
    lines = _by_code(estimate)
    days = {"IMPL-INSTANCE": (10, 16), "IMPL-HA-GEO": (20, 25), "IMPL-INTEGRATION": (3, 9),
            "IMPL-CI-TEMPLATE": (4, 8), "IMPL-RUNNER-FLEET": (2, 3), "IMPL-WORKSHOP": (4, 4)}
    for code, (low_days, high_days) in days.items():
        assert (lines[code].low, lines[code].high) == (Decimal(2000 * low_days), Decimal(2000 * high_days)), code
    assert lines["IMPL-INTEGRATION"].quantity == 3
    low_days, high_days = sum(d[0] for d in days.values()), sum(d[1] for d in days.values())
    assert (low_days, high_days) == (43, 65)
    assert lines[LINE_MANAGEMENT].low == Decimal("8600.00")  # 4.3 days
    assert lines[LINE_MANAGEMENT].high == Decimal("19500.00")  # 9.75 days
    assert estimate.low == Decimal(86000 + 8600)
    assert estimate.high == Decimal(130000 + 19500)
    assert FLAG_TECHNICAL_REVIEW in estimate.flag_codes


def test_high_availability_with_geo_adds_20_to_25_days(tables):
    without = calculate(IMPLEMENTATION, {"instances": 1}, tables)
    with_geo = calculate(IMPLEMENTATION, {"instances": 1, "ha_geo": "1"}, tables)
    geo = _by_code(with_geo)["IMPL-HA-GEO"]
    assert (geo.low, geo.high) == (Decimal(40000), Decimal(50000))
    # Management follows: 10% of 25 and 15% of 33 days.
    assert _by_code(with_geo)[LINE_MANAGEMENT].low == Decimal(5000)
    assert _by_code(with_geo)[LINE_MANAGEMENT].high == Decimal("9900.00")
    assert with_geo.high - without.high == Decimal(50000) + Decimal("9900") - Decimal("2400")


def test_management_percent_rounds_to_cents(tables):
    card = dataclasses.replace(tables.rate_card, management_percent_low=Decimal("12.5"),
                               management_percent_high=Decimal("33.33"))
    estimate = calculate(IMPLEMENTATION, {"workshops": 1, "instances": 0}, dataclasses.replace(tables, rate_card=card))
    pm = _by_code(estimate)[LINE_MANAGEMENT]
    assert (pm.low, pm.high) == (Decimal("250.00"), Decimal("666.60"))
    assert estimate.low == Decimal("2250.00")


# ----------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("template", "answers", "code"), [
    ("nope", {}, "unknown-template"),
    ("", {}, "unknown-template"),
    (PRICE_BOOK, {"GL-NOPE": 1}, "unknown-sku"),
    (PRICE_BOOK, {}, "empty-rom"),
    (PRICE_BOOK, {"GL-CICD-R": 0}, "empty-rom"),
    (PRICE_BOOK, {"attendees": 20}, "empty-rom"),
    (PRICE_BOOK, {"GL-CICD-R": "1.5"}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": "two"}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": ""}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": True}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": 1.0}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": "1e3"}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": "٣"}, "not-a-whole-number"),
    (PRICE_BOOK, {"GL-CICD-R": -1}, "negative-number"),
    (PRICE_BOOK, {"GL-CICD-R": "-2"}, "negative-number"),
    (PRICE_BOOK, {"GL-CICD-R": "-" + "9" * 50}, "negative-number"),
    (PRICE_BOOK, {"GL-CICD-R": "9" * 5000}, "number-too-large"),
    (PRICE_BOOK, {"GL-CICD-R": 1_000_001}, "number-too-large"),
    (PRICE_BOOK, {"gl-cicd-r": 1, "GL-CICD-R": 1}, "duplicate-answer"),
    (SM_TO_SAAS, {"users": 10}, "missing-answer"),
    (SM_TO_SAAS, {"projects": 10}, "missing-answer"),
    (SM_TO_SAAS, {"users": 10, "projects": 10, "repos": 1}, "unknown-question"),
    (SM_TO_SAAS, {"users": 10, "projects": -10}, "negative-number"),
    (IMPLEMENTATION, {"instances": 0}, "empty-rom"),
    (IMPLEMENTATION, {"ha_geo": 2}, "number-too-large"),
    (IMPLEMENTATION, {"geo": 1}, "unknown-question"),
])
def test_refusals_have_precise_codes(tables, template, answers, code):
    with pytest.raises(ApplicationError) as raised:
        calculate(template, answers, tables)
    assert raised.value.code == code
    assert raised.value.message and "\n" not in raised.value.message


def test_unknown_sku_suggests_a_close_one(tables):
    with pytest.raises(ApplicationError, match="Did you mean GL-CICD-R"):
        calculate(PRICE_BOOK, {"GL-CICD-RR": 1}, tables)


def test_unknown_question_lists_the_questions(tables):
    with pytest.raises(ApplicationError, match="instances, ha_geo, integrations"):
        calculate(IMPLEMENTATION, {"nodes": 1}, tables)


@pytest.mark.parametrize(("table", "template", "answers"), [
    ("price_book", PRICE_BOOK, {"GL-CICD-R": 1}),
    ("migration_matrix", SM_TO_SAAS, {"users": 1, "projects": 1}),
    ("rate_card", IMPLEMENTATION, {}),
])
def test_a_missing_table_is_refused(tables, table, template, answers):
    with pytest.raises(ApplicationError) as raised:
        calculate(template, answers, dataclasses.replace(tables, **{table: None}))
    assert raised.value.code == "no-active-table"


def test_a_sparse_matrix_is_refused(tables):
    matrix = tables.migration_matrix
    bands = tuple(b for b in matrix.bands if (b.users_max, b.projects_max) != (1000, 2000))
    sparse = dataclasses.replace(tables, migration_matrix=dataclasses.replace(matrix, bands=bands))
    with pytest.raises(ApplicationError) as raised:
        calculate(SM_TO_SAAS, {"users": 600, "projects": 1500}, sparse)
    assert raised.value.code == "matrix-cell-missing"


def test_parse_whole_number():
    assert parse_whole_number("x", "007") == 7
    assert parse_whole_number("x", 0) == 0
    with pytest.raises(ApplicationError, match="x must be a whole number, not '1,000'"):
        parse_whole_number("x", "1,000")


# ------------------------------------------------------------------------------------------------ shapes and specs


def test_as_dict_is_json_ready():
    estimate = Estimate("price-book", "USD", Decimal(30000), Decimal("40000.5"),
                        (Line("A", "a", 1, Decimal("30000"), None),), (Flag("f", "m"),), ("x",), {"price_book": 1})
    assert estimate.as_dict() == {
        "template": "price-book", "currency": "USD", "low": "30000.00", "high": "40000.50",
        "lines": [{"code": "A", "description": "a", "quantity": 1, "low": "30000.00", "high": None}],
        "flags": [{"code": "f", "message": "m"}], "assumptions": ["x"], "table_versions": {"price_book": 1},
        "answers": {},
    }


def test_results_are_frozen(tables):
    estimate = calculate(PRICE_BOOK, {"GL-CICD-R": 1}, tables)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.low = Decimal(0)


def test_templates_describe_their_questions(tables):
    assert set(TEMPLATES) == {PRICE_BOOK, SM_TO_SAAS, IMPLEMENTATION}
    assert [q.name for q in TEMPLATES[SM_TO_SAAS].questions] == ["users", "projects", "large_repos"]
    assert {q.name: q.default for q in TEMPLATES[IMPLEMENTATION].questions}["instances"] == 1
    for spec in TEMPLATES.values():
        for question in spec.questions:
            assert question.label and question.min == 0
    price_book_questions = [q.name for q in questions_for(PRICE_BOOK, tables)]
    assert price_book_questions[0] == "attendees" and "GL-CICD-R" in price_book_questions
    assert len(price_book_questions) == 1 + len(tables.price_book.items)
    implementation = {q.name: q for q in questions_for(IMPLEMENTATION, tables)}
    assert "20-25 days each" in implementation["ha_geo"].help
    assert implementation["ha_geo"].max == 1


def test_a_new_rate_card_question_is_accepted(tables):
    card = tables.rate_card
    extra = dataclasses.replace(card.activities[0], code="IMPL-AUDIT", question="audits", description="Audit")
    changed = dataclasses.replace(tables, rate_card=dataclasses.replace(card, activities=(*card.activities, extra)))
    estimate = calculate(IMPLEMENTATION, {"audits": 1, "instances": 0}, changed)
    assert [line.code for line in estimate.lines] == ["IMPL-AUDIT", LINE_MANAGEMENT]
