"""The services calculator: a questionnaire's answers in, a ROM estimate out (DOMAIN.md, "The services calculator").

Plain Python over plain data. `calculate()` never touches the database: the tables it reads come in a `Tables`
value, built either from the active versions in the database (`tables_from_db()`, what the product uses) or from the
CSV files shipped in the package (`tables_from_csv()`, the defaults and the tests). Money is Decimal, never float,
and every amount is quantized to the currency's minor unit before it is added up, so the lines always sum to the
total exactly.

Three templates:

- ``price-book``: each answer is a SKU and its quantity; ``attendees`` is the number of attendees per training
  session, and every attendee above 12 in a session is one ``SRV-PERSEAT-R`` seat. Low equals high.
- ``sm-to-saas``: self-managed to SaaS migration from a users x projects matrix, plus a price per started block of
  repositories larger than 5 GB. Beyond the matrix there is no price, only the ``engagement-manager-estimate`` flag.
- ``implementation``: days per activity times the rate card's day rate, low and high, plus project management as a
  share of the delivery days.

Every ROM whose high value is over the approval policy's review threshold (50,000 by default) carries the
``technical-architect-review`` flag.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from psops.approvals.policy import DEFAULT_RULES, review_threshold
from psops.core.errors import ApplicationError
from psops.core.money import fmt, quantize
from psops.core.quantities import COUNT, DAYS, MONEY, Bound
from psops.core.quantities import check as check_bound

PRICE_BOOK = "price-book"
SM_TO_SAAS = "sm-to-saas"
IMPLEMENTATION = "implementation"

FLAG_ENGAGEMENT_MANAGER = "engagement-manager-estimate"
FLAG_TECHNICAL_REVIEW = "technical-architect-review"
FLAG_TRAVEL = "travel-billed-separately"

# Facts from the handbook (DOMAIN.md). The tables' own numbers live in the tables.
SEAT_SKU = "SRV-PERSEAT-R"
MAX_ATTENDEES_PER_SESSION = 12
DEFAULT_CURRENCY = "USD"
# The review threshold is the approval policy's (its default rules here; the active policy in the database).
DEFAULT_TECHNICAL_REVIEW_OVER = review_threshold(DEFAULT_RULES)
DEFAULT_LARGE_REPO_BLOCK_SIZE = 10
DEFAULT_LARGE_REPO_BLOCK_PRICE = Decimal("12000")
# Rapid Results - self-managed (GL-RR-SELF) is 40,000 for 20 days: 2,000 a day.
DEFAULT_DAY_RATE = Decimal("2000")
DEFAULT_MANAGEMENT_PERCENT_LOW = Decimal("10")
DEFAULT_MANAGEMENT_PERCENT_HIGH = Decimal("15")

# No answer may exceed this (the bound of a count, psops.core.quantities); totals are held to the ceiling of one
# amount as well (`calculate`).
MAX_ANSWER = int(COUNT.maximum)

LINE_MIGRATION = "SM-SAAS-MIGRATION"
LINE_LARGE_REPOS = "SM-SAAS-LARGE-REPOS"
LINE_MANAGEMENT = "IMPL-PM"

CSV_PRICE_BOOK = "price-book.csv"
CSV_MIGRATION_MATRIX = "sm-to-saas-rom.csv"
CSV_RATE_CARD = "implementation-rate-card.csv"

_HUNDRED = Decimal(100)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


# --------------------------------------------------------------------------------------------------------- results


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else format(quantize(value, currency), "f")


@dataclass(frozen=True)
class Line:
    code: str
    description: str
    quantity: int
    low: Decimal | None
    high: Decimal | None

    def as_dict(self, currency: str = DEFAULT_CURRENCY) -> dict[str, Any]:
        return {"code": self.code, "description": self.description, "quantity": self.quantity,
                "low": _money(self.low, currency), "high": _money(self.high, currency)}


@dataclass(frozen=True)
class Flag:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Estimate:
    template: str
    currency: str
    low: Decimal | None
    high: Decimal | None
    lines: tuple[Line, ...]
    flags: tuple[Flag, ...]
    assumptions: tuple[str, ...]
    # Which table versions produced it, e.g. {"price_book": 1}; None means the package CSV.
    table_versions: dict[str, int | None]
    # The answers as the calculator understood them: canonical names, whole numbers, defaults filled in.
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as decimal strings in the currency's minor unit ("30000.00"), None as null."""
        return {
            "template": self.template,
            "currency": self.currency,
            "low": _money(self.low, self.currency),
            "high": _money(self.high, self.currency),
            "lines": [line.as_dict(self.currency) for line in self.lines],
            "flags": [f.as_dict() for f in self.flags],
            "assumptions": list(self.assumptions),
            "table_versions": dict(self.table_versions),
            "answers": dict(self.answers),
        }


# ---------------------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class PriceBookEntry:
    sku: str
    name: str
    category: str
    unit: str
    price: Decimal
    delivery: str = ""
    limits: str = ""

    @property
    def is_session(self) -> bool:
        """A training session: at most 12 attendees, extra attendees buy seats."""
        return self.category == "education" and self.unit == "session"


@dataclass(frozen=True)
class PriceBookTable:
    version: int | None
    currency: str
    items: dict[str, PriceBookEntry]  # by SKU


@dataclass(frozen=True)
class Band:
    users_max: int
    projects_max: int
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class MigrationTable:
    version: int | None
    currency: str
    bands: tuple[Band, ...]
    large_repo_block_size: int = DEFAULT_LARGE_REPO_BLOCK_SIZE
    large_repo_block_price: Decimal = DEFAULT_LARGE_REPO_BLOCK_PRICE


@dataclass(frozen=True)
class Activity:
    code: str
    question: str
    description: str
    low_days: Decimal
    high_days: Decimal


@dataclass(frozen=True)
class RateCardTable:
    version: int | None
    currency: str
    day_rate: Decimal
    activities: tuple[Activity, ...]
    management_percent_low: Decimal = DEFAULT_MANAGEMENT_PERCENT_LOW
    management_percent_high: Decimal = DEFAULT_MANAGEMENT_PERCENT_HIGH


@dataclass(frozen=True)
class Tables:
    """Everything the calculator reads. A table is None when there is no active version of it."""

    price_book: PriceBookTable | None
    migration_matrix: MigrationTable | None
    rate_card: RateCardTable | None
    # A ROM whose high value is strictly over this needs a technical architect's review (None: never). The figure is
    # the active approval policy's, read by `load_tables`; the calculator only quotes it in its flag.
    technical_review_over: Decimal | None = DEFAULT_TECHNICAL_REVIEW_OVER


# ------------------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Question:
    name: str
    label: str
    help: str = ""
    default: int | None = None  # None: no default (the answer is optional unless required)
    min: int = 0
    max: int | None = None
    required: bool = False


@dataclass(frozen=True)
class TemplateSpec:
    code: str
    title: str
    description: str
    questions: tuple[Question, ...]
    # price-book: besides `questions`, every SKU of the price book is a question (its quantity).
    sku_questions: bool = False


_ATTENDEES = Question(
    "attendees", "Attendees per training session",
    f"Training sessions take at most {MAX_ATTENDEES_PER_SESSION} attendees; each extra attendee in each session is "
    f"one {SEAT_SKU} seat.", default=None)

_IMPLEMENTATION_QUESTIONS = (
    Question("instances", "Self-managed instances", "Instances to install and configure.", default=1),
    Question("ha_geo", "High availability with Geo", "1 if the customer wants high availability with Geo, else 0.",
             default=0, max=1),
    Question("integrations", "Integrations", "Third-party tools to integrate (Jira, Jenkins, LDAP, ...).", default=0),
    Question("ci_templates", "CI/CD templates", "Reusable CI/CD pipeline templates to build.", default=0),
    Question("runner_fleets", "Runner fleets", "Runner fleets to set up.", default=0),
    Question("workshops", "Workshops", "One-day enablement workshops.", default=0),
)

TEMPLATES: dict[str, TemplateSpec] = {
    PRICE_BOOK: TemplateSpec(
        PRICE_BOOK, "Price book",
        "Standard SKUs at list price: answer each SKU with its quantity, e.g. GL-CICD-R=2.",
        (_ATTENDEES,), sku_questions=True),
    SM_TO_SAAS: TemplateSpec(
        SM_TO_SAAS, "Self-managed to SaaS migration",
        "A users x projects matrix of ranges, plus blocks of large repositories.",
        (
            Question("users", "Users", "Users on the self-managed instance.", required=True),
            Question("projects", "Projects", "Projects on the self-managed instance.", required=True),
            Question("large_repos", "Repositories over 5 GB", "How many repositories are larger than 5 GB.",
                     default=0),
        )),
    IMPLEMENTATION: TemplateSpec(
        IMPLEMENTATION, "Implementation / consulting by effort",
        "Days per activity times the rate card's day rate, plus project management.",
        _IMPLEMENTATION_QUESTIONS),
}


def template_spec(code: str) -> TemplateSpec:
    """The spec of a template, or ApplicationError unknown-template."""
    try:
        return TEMPLATES[code]
    except (KeyError, TypeError):
        raise ApplicationError(
            code="unknown-template",
            message=f"Unknown template '{code}'; expected one of: {', '.join(TEMPLATES)}.", field="template",
        ) from None


def _days(low: Decimal, high: Decimal) -> str:
    low_text, high_text = f"{low.normalize():f}", f"{high.normalize():f}"
    return low_text if low == high else f"{low_text}-{high_text}"


def _plural(count: int | Decimal, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _unit_days(activity: Activity) -> str:
    return "day" if activity.low_days == activity.high_days == 1 else "days"


def questions_for(template: str, tables: Tables | None = None) -> tuple[Question, ...]:
    """The full questionnaire of a template: for price-book one question per SKU of the price book, for
    implementation one per question of the rate card (with its days). Without tables, the static spec."""
    spec = template_spec(template)
    if tables is None:
        return spec.questions
    if template == PRICE_BOOK and tables.price_book is not None:
        skus = tuple(Question(e.sku, e.name, f"{e.unit}, {e.delivery}, {fmt(e.price, tables.price_book.currency)}"
                              + (f"; {e.limits}" if e.limits else ""), default=None)
                     for e in tables.price_book.items.values())
        return spec.questions + skus
    if template == IMPLEMENTATION and tables.rate_card is not None:
        known = {q.name: q for q in spec.questions}
        result: dict[str, Question] = {}
        for activity in tables.rate_card.activities:
            if activity.question in result:
                continue
            base = known.get(activity.question) or Question(activity.question, activity.description, default=0)
            days = f"{_days(activity.low_days, activity.high_days)} {_unit_days(activity)} each"
            result[activity.question] = Question(base.name, base.label, f"{base.help} {days}.".strip(),
                                                 base.default, base.min, base.max, base.required)
        return tuple(result.values())
    return spec.questions


# --------------------------------------------------------------------------------------------------------- answers


def parse_whole_number(name: str, raw: object) -> int:
    """A whole number from user input: an int, or a string of digits. Never a bool, float or fraction."""
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw.strip()):
        text = raw.strip()
        digits = text.lstrip("+-").lstrip("0") or "0"
        if len(digits) > len(str(MAX_ANSWER)) and not text.startswith("-"):  # huge: no need to build it
            raise ApplicationError(code="number-too-large", message=f"{name} must be at most {MAX_ANSWER:,} "
                                   f"(got {text}).", field=name)
        value = int(text) if len(digits) <= len(str(MAX_ANSWER)) else -MAX_ANSWER - 1
    else:
        value = None
    if value is None:
        raise ApplicationError(code="not-a-whole-number", message=f"{name} must be a whole number, not '{raw}'.",
                               field=name)
    if value < 0:
        raise ApplicationError(code="negative-number", message=f"{name} may not be negative ({raw}).", field=name)
    return value


def _check_range(question: Question, value: int) -> None:
    if value < question.min:
        raise ApplicationError(code="number-too-small", message=f"{question.name} must be at least {question.min} "
                               f"(got {value}).", field=question.name)
    limit = MAX_ANSWER if question.max is None else min(question.max, MAX_ANSWER)
    if value > limit:
        raise ApplicationError(code="number-too-large", message=f"{question.name} must be at most {limit:,} "
                               f"(got {value:,}).", field=question.name)


def _normalize(template: str, answers: Mapping[str, str | int], questions: Iterable[Question],
               unknown: ApplicationError | None = None) -> dict[str, int]:
    """Canonical names (case-insensitive match), whole numbers in range, defaults filled in, required checked."""
    by_name = {q.name: q for q in questions}
    by_folded = {name.casefold(): name for name in by_name}
    result: dict[str, int] = {}
    for raw_name, raw_value in answers.items():
        given = str(raw_name).strip()
        name = by_folded.get(given.casefold())
        if name is None:
            raise _unknown_answer(template, given, list(by_name))
        if name in result:
            raise ApplicationError(code="duplicate-answer", message=f"{name} is answered more than once.", field=name)
        value = parse_whole_number(name, raw_value)
        _check_range(by_name[name], value)
        result[name] = value
    for question in by_name.values():
        if question.name in result:
            continue
        if question.required:
            raise ApplicationError(code="missing-answer",
                                   message=f"Template {template} needs an answer for {question.name} "
                                           f"({question.label}).", field=question.name)
        if question.default is not None:
            result[question.name] = question.default
    return result


def _unknown_answer(template: str, given: str, names: list[str]) -> ApplicationError:
    close = difflib.get_close_matches(given, names, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    if template == PRICE_BOOK and given != _ATTENDEES.name:
        return ApplicationError(code="unknown-sku", message=f"Unknown SKU '{given}': not in the price book.{hint}",
                                field=given)
    return ApplicationError(code="unknown-question",
                            message=f"Unknown question '{given}' for template {template}; expected one of: "
                                    f"{', '.join(names)}.{hint}", field=given)


def _no_table(what: str) -> ApplicationError:
    return ApplicationError(code="no-active-table",
                            message=f"There is no active {what}: an administrator must activate one.")


# ----------------------------------------------------------------------------------------------------- calculation


def calculate(template: str, answers: Mapping[str, str | int], tables: Tables) -> Estimate:
    """Turn a template's answers into an estimate. Raises ApplicationError on any bad answer; no side effects."""
    template_spec(template)
    if template == PRICE_BOOK:
        estimate = _price_book(answers, tables)
    elif template == SM_TO_SAAS:
        estimate = _sm_to_saas(answers, tables)
    else:
        estimate = _implementation(answers, tables)
    for total in (estimate.low, estimate.high):
        if total is not None:  # an estimate beyond one amount is not a deal anybody quotes: refuse, do not store
            check_bound(total, MONEY, field="answers", what=f"The estimate's total ({estimate.currency})")
    return _with_review_flag(estimate, tables.technical_review_over)


def _totals(lines: Iterable[Line], currency: str) -> tuple[Decimal, Decimal]:
    lines = list(lines)
    low = sum((line.low for line in lines if line.low is not None), Decimal(0))
    high = sum((line.high for line in lines if line.high is not None), Decimal(0))
    return quantize(low, currency), quantize(high, currency)


def review_flag(high: Decimal | None, currency: str, threshold: Decimal | None) -> Flag | None:
    """The technical-review flag for a ROM of this high value, when the policy's threshold asks for one."""
    if high is None or threshold is None or high <= threshold:
        return None
    return Flag(FLAG_TECHNICAL_REVIEW, f"The high value {fmt(high, currency)} is over {fmt(threshold, currency)}: a "
                                       f"technical architect reviews this ROM as well.")


def _with_review_flag(estimate: Estimate, threshold: Decimal | None) -> Estimate:
    flag = review_flag(estimate.high, estimate.currency, threshold)
    if flag is None:
        return estimate
    return Estimate(estimate.template, estimate.currency, estimate.low, estimate.high, estimate.lines,
                    estimate.flags + (flag,), estimate.assumptions, estimate.table_versions, estimate.answers)


def _price_book(answers: Mapping[str, str | int], tables: Tables) -> Estimate:
    book = tables.price_book
    if book is None:
        raise _no_table("price book")
    currency = book.currency
    given = _normalize(PRICE_BOOK, answers, questions_for(PRICE_BOOK, tables))
    attendees = given.get(_ATTENDEES.name, 0)
    quantities = {sku: qty for sku, qty in given.items() if sku != _ATTENDEES.name and qty > 0}

    sessions = sum(qty for sku, qty in quantities.items() if book.items[sku].is_session)
    extra_per_session = max(0, attendees - MAX_ATTENDEES_PER_SESSION)
    extra_seats = extra_per_session * sessions
    if extra_seats:
        if SEAT_SKU not in book.items:
            raise ApplicationError(code="unknown-sku", message=f"The price book has no {SEAT_SKU} seat to price "
                                                               f"{extra_seats} extra attendees.", field=SEAT_SKU)
        quantities[SEAT_SKU] = quantities.get(SEAT_SKU, 0) + extra_seats  # keeps an explicit seat line's place

    lines = []
    for sku, qty in quantities.items():
        item = book.items[sku]
        amount = quantize(item.price * qty, currency)
        description = f"{item.name} ({item.delivery})" if item.delivery else item.name
        if sku == SEAT_SKU and extra_seats:
            explicit = qty - extra_seats
            description += (f": {extra_per_session} attendees over {MAX_ATTENDEES_PER_SESSION} in each of "
                            f"{sessions} sessions" + (f", plus {explicit} requested" if explicit else ""))
        lines.append(Line(sku, description, qty, amount, amount))
    if not lines:
        raise ApplicationError(code="empty-rom", message="A price-book ROM needs at least one SKU with a quantity "
                                                         "above 0, e.g. GL-CICD-R=1.")

    low, high = _totals(lines, currency)
    version = "the package price book" if book.version is None else f"price book v{book.version}"
    assumptions = [f"List prices from {version} in {currency}, before any discount."]
    flags = []
    if sessions:
        assumptions.append(f"Each training session takes at most {MAX_ATTENDEES_PER_SESSION} attendees; each extra "
                           f"attendee in a session is one {SEAT_SKU} seat.")
    on_site = [sku for sku in quantities if book.items[sku].delivery == "on-site"]
    if on_site:
        message = f"Travel for on-site delivery ({', '.join(on_site)}) is billed separately, at cost."
        assumptions.append(message)
        flags.append(Flag(FLAG_TRAVEL, message))
    return Estimate(PRICE_BOOK, currency, low, high, tuple(lines), tuple(flags), tuple(assumptions),
                    {"price_book": book.version}, given)


def _sm_to_saas(answers: Mapping[str, str | int], tables: Tables) -> Estimate:
    matrix = tables.migration_matrix
    if matrix is None or not matrix.bands:
        raise _no_table("migration matrix")
    currency = matrix.currency
    given = _normalize(SM_TO_SAAS, answers, TEMPLATES[SM_TO_SAAS].questions)
    users, projects, large_repos = given["users"], given["projects"], given["large_repos"]
    users_bounds = sorted({band.users_max for band in matrix.bands})
    projects_bounds = sorted({band.projects_max for band in matrix.bands})
    versions = {"migration_matrix": matrix.version}
    version = "the package matrix" if matrix.version is None else f"migration matrix v{matrix.version}"
    assumptions = [f"Ranges from {version} in {currency}.",
                   f"A band covers up to and including its bound; {matrix.large_repo_block_size} repositories over "
                   f"5 GB make one block at {fmt(matrix.large_repo_block_price, currency)}, a started block counts "
                   f"in full."]

    if users > users_bounds[-1] or projects > projects_bounds[-1]:
        flag = Flag(FLAG_ENGAGEMENT_MANAGER,
                    f"{_plural(users, 'user')} and {_plural(projects, 'project')} is beyond the matrix (up to "
                    f"{users_bounds[-1]:,} users and {projects_bounds[-1]:,} projects): an engagement manager "
                    f"estimates this migration.")
        return Estimate(SM_TO_SAAS, currency, None, None, (), (flag,), tuple(assumptions), versions, given)

    if matrix.large_repo_block_size < 1:
        raise ApplicationError(code="invalid-table", message="The migration matrix's large-repository block size "
                                                             "must be at least 1.")
    users_max = next(bound for bound in users_bounds if bound >= users)
    projects_max = next(bound for bound in projects_bounds if bound >= projects)
    band = next((b for b in matrix.bands if (b.users_max, b.projects_max) == (users_max, projects_max)), None)
    if band is None:
        raise ApplicationError(code="matrix-cell-missing",
                               message=f"The migration matrix has no range for up to {users_max:,} users and "
                                       f"{projects_max:,} projects: an administrator must complete it.")
    lines = [Line(LINE_MIGRATION, f"Self-managed to SaaS migration, up to {users_max:,} users and {projects_max:,} "
                                  f"projects", 1, quantize(band.low, currency), quantize(band.high, currency))]
    blocks = -(-large_repos // matrix.large_repo_block_size)  # ceiling: a started block counts
    if blocks:
        amount = quantize(matrix.large_repo_block_price * blocks, currency)
        lines.append(Line(LINE_LARGE_REPOS, f"Repositories over 5 GB: {large_repos} in blocks of "
                                            f"{matrix.large_repo_block_size}", blocks, amount, amount))
    low, high = _totals(lines, currency)
    return Estimate(SM_TO_SAAS, currency, low, high, tuple(lines), (), tuple(assumptions), versions, given)


def _implementation(answers: Mapping[str, str | int], tables: Tables) -> Estimate:
    card = tables.rate_card
    if card is None or not card.activities:
        raise _no_table("rate card")
    if card.management_percent_low > card.management_percent_high:
        raise ApplicationError(code="invalid-table", message="The rate card's project management low percent is "
                                                             "above its high percent.")
    currency, rate = card.currency, card.day_rate
    given = _normalize(IMPLEMENTATION, answers, questions_for(IMPLEMENTATION, tables))
    lines = []
    low_days = high_days = Decimal(0)
    for activity in card.activities:
        count = given.get(activity.question, 0)
        if not count:
            continue
        low_days += activity.low_days * count
        high_days += activity.high_days * count
        lines.append(Line(activity.code,
                          f"{activity.description} ({_days(activity.low_days, activity.high_days)} "
                          f"{_unit_days(activity)} each)",
                          count, quantize(activity.low_days * count * rate, currency),
                          quantize(activity.high_days * count * rate, currency)))
    if not lines:
        raise ApplicationError(code="empty-rom", message="An implementation ROM needs at least one activity: every "
                                                         "answer is 0.")
    low_pct, high_pct = card.management_percent_low, card.management_percent_high
    if high_pct:
        lines.append(Line(LINE_MANAGEMENT,
                          f"Project management ({_days(low_pct, high_pct)}% of {_days(low_days, high_days)} delivery "
                          f"days)", 1, quantize(low_days * low_pct / _HUNDRED * rate, currency),
                          quantize(high_days * high_pct / _HUNDRED * rate, currency)))
    low, high = _totals(lines, currency)
    version = "the package rate card" if card.version is None else f"rate card v{card.version}"
    assumptions = (f"Day rate {fmt(rate, currency)} from {version}; remote delivery.",
                   f"Project management is {_days(low_pct, high_pct)}% of the delivery days.")
    return Estimate(IMPLEMENTATION, currency, low, high, tuple(lines), (), assumptions, {"rate_card": card.version},
                    given)


# --------------------------------------------------------------------------------------------------- table sources


def _csv_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("psops.estimating").joinpath("data", name).read_text(encoding="utf-8")
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _decimal(raw: str, where: str, bound: Bound = MONEY) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ApplicationError(code="invalid-table", message=f"{where}: '{raw}' is not a number.") from None
    if not value.is_finite() or value < 0:
        raise ApplicationError(code="invalid-table", message=f"{where}: '{raw}' is not a non-negative number.")
    if value > bound.maximum:
        raise ApplicationError(code="invalid-table", message=f"{where}: '{raw}' is above {bound.show(bound.maximum)}.")
    return value


def tables_from_csv() -> Tables:
    """The default tables from the CSV files shipped in the package (version None: not from the database)."""
    items = {}
    for row in _csv_rows(CSV_PRICE_BOOK):
        items[row["sku"]] = PriceBookEntry(row["sku"], row["name"], row["category"], row["unit"],
                                           quantize(_decimal(row["price_usd"], f"{CSV_PRICE_BOOK} {row['sku']}")),
                                           row["delivery"], row["limits"])
    bands = tuple(Band(int(row["users_max"]), int(row["projects_max"]),
                       quantize(_decimal(row["low_usd"], CSV_MIGRATION_MATRIX)),
                       quantize(_decimal(row["high_usd"], CSV_MIGRATION_MATRIX)))
                  for row in _csv_rows(CSV_MIGRATION_MATRIX))
    activities = tuple(Activity(row["code"], row["question"], row["description"],
                                _decimal(row["low_days"], f"{CSV_RATE_CARD} {row['code']}", DAYS),
                                _decimal(row["high_days"], f"{CSV_RATE_CARD} {row['code']}", DAYS))
                       for row in _csv_rows(CSV_RATE_CARD))
    return Tables(
        price_book=PriceBookTable(None, DEFAULT_CURRENCY, items),
        migration_matrix=MigrationTable(None, DEFAULT_CURRENCY, bands),
        rate_card=RateCardTable(None, DEFAULT_CURRENCY, quantize(DEFAULT_DAY_RATE), activities),
    )


def tables_from_db() -> Tables:
    """The active version of each table in the database: one query per table plus one for its rows."""
    from .models import MigrationMatrix, PriceBook, RateCard

    book = PriceBook.objects.filter(is_active=True).prefetch_related("items").first()
    matrix = MigrationMatrix.objects.filter(is_active=True).prefetch_related("bands").first()
    card = RateCard.objects.filter(is_active=True).prefetch_related("activities").first()
    return Tables(
        price_book=None if book is None else PriceBookTable(
            book.version, book.currency,
            {i.sku: PriceBookEntry(i.sku, i.name, i.category, i.unit, i.price, i.delivery, i.limits)
             for i in book.items.all()}),
        migration_matrix=None if matrix is None else MigrationTable(
            matrix.version, matrix.currency,
            tuple(Band(b.users_max, b.projects_max, b.low, b.high) for b in matrix.bands.all()),
            matrix.large_repo_block_size, matrix.large_repo_block_price),
        rate_card=None if card is None else RateCardTable(
            card.version, card.currency, card.day_rate,
            tuple(Activity(a.code, a.question, a.description, a.low_days, a.high_days) for a in card.activities.all()),
            card.management_percent_low, card.management_percent_high),
        technical_review_over=policy_review_threshold(),
    )


def policy_review_threshold() -> Decimal | None:
    """The review threshold of the active approval policy (the one place it is stored)."""
    from psops.approvals.models import ApprovalPolicy

    active = ApprovalPolicy.objects.filter(is_active=True).only("rules").first()
    return None if active is None else review_threshold(active.rules)
