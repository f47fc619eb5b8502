"""Every number a person gives the system, bounded in one place (docs/decisions/0007-bounded-amounts.md).

A number comes in at many doors (a page's form, a service called by a command or the API, a table loaded from a
file, the admin) and ends in a column that every page then reads. Each kind of number has one `Bound` here: the
least and the most it may be and how many decimal places it keeps. The form fields (`psops.core.formfields`), the
services (`parse`, `check`, and `psops.core.money.parse_amount` for money), the database's check constraints
(`bounded`) and the audit of what is already stored (`stored_out_of_range`, `psops check_amounts`) all read it from
here, so no door accepts what the column, or a page that sums it, cannot hold.

Why these ceilings: one amount of money is at most 999,999,999.99 (a billion less a cent), far above any
professional-services deal a firm of our size signs, and 10^5 times below what the 16-digit column holds, so sums of
many amounts stay exact on both databases (SQLite keeps 15 significant digits). Hours are the other quantity a
person types in bulk: a project's budget or actual hours are at most 100,000 (some 53 person-years).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from .errors import ApplicationError


@dataclass(frozen=True)
class Bound:
    """What one kind of number may be: from `minimum` to `maximum`, with at most `places` decimal places."""

    what: str  # said in messages: "'abc' is not <what>"
    minimum: Decimal
    maximum: Decimal
    places: int
    unit: str = ""  # appended to numbers in messages: " h", "%"
    invalid_code: str = "invalid-quantity"  # not a number, a float, too many places, below the minimum
    range_code: str = "quantity-out-of-range"  # above the ceiling

    def show(self, value: Decimal | int) -> str:
        return f"{value:,}{self.unit}"


MONEY = Bound("an amount of money", Decimal(0), Decimal("999999999.99"), 2,
              invalid_code="invalid-amount", range_code="amount-out-of-range")
HOURS = Bound("a number of hours", Decimal(0), Decimal(100_000), 2, " h", invalid_code="invalid-hours")
HOURS_IN_A_DAY = Bound("a number of hours", Decimal(0), Decimal(24), 2, " h", invalid_code="invalid-hours",
                        range_code="invalid-hours")
PERCENT = Bound("a percentage", Decimal(0), Decimal(100), 2, "%")
DAYS = Bound("a number of days", Decimal(0), Decimal(1_000), 2, " days")
COUNT = Bound("a whole number", Decimal(0), Decimal(1_000_000), 0)
NET_DAYS = Bound("a number of days", Decimal(0), Decimal(120), 0, " days", invalid_code="invalid-net-days",
                 range_code="invalid-net-days")


def _shown(raw: object) -> str:
    text = str(raw)
    return text if len(text) <= 24 else f"{text[:20]}..."


def parse(raw: object, bound: Bound, *, field: str, places: int | None = None, minimum: Decimal | None = None,
          maximum: Decimal | None = None, invalid_code: str | None = None, range_code: str | None = None) -> Decimal:
    """A number given by a person (text, an int or a Decimal; never a float or a bool) within `bound`, with at most
    its places (or `places`), returned quantized to them. Refusals name `field` and the bound they break."""
    invalid = invalid_code or bound.invalid_code
    name = field[:1].upper() + field[1:]
    keep = bound.places if places is None else places
    low = bound.minimum if minimum is None else minimum
    high = bound.maximum if maximum is None else maximum
    if isinstance(raw, float | bool):
        raise ApplicationError(code=invalid, message=f"{name} must be a decimal number, not {raw!r}.", field=field)
    text = str(raw).strip() if raw is not None else ""
    try:
        value: Decimal | None = Decimal(text)
    except (InvalidOperation, ValueError, ArithmeticError):
        value = None
    if value is None or not value.is_finite():
        raise ApplicationError(code=invalid, message=f"{name} '{_shown(raw)}' is not {bound.what}.", field=field)
    if value < low:
        message = (f"{name} may not be negative ({_shown(raw)})." if value < 0 <= low
                   else f"{name} must be at least {bound.show(low)} (got {_shown(raw)}).")
        raise ApplicationError(code=invalid, message=message, field=field)
    if value > high:
        raise ApplicationError(code=range_code or bound.range_code,
                               message=f"{name} must be at most {bound.show(high)} (got {_shown(raw)}).", field=field)
    step = Decimal(1).scaleb(-keep)
    rounded = value.quantize(step)  # cannot overflow: the value is within the bound
    if rounded != value:
        places_said = "no decimal places" if keep == 0 else f"at most {keep} decimal place{'s' if keep > 1 else ''}"
        raise ApplicationError(code=invalid, message=f"{name} takes {places_said} ({_shown(raw)}).", field=field)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # "-0" is stored as 0


def check(value: Decimal, bound: Bound, *, field: str, what: str | None = None) -> Decimal:
    """Refuse a computed figure (a total, a sum of change orders) that would leave the bound: services call this
    before they store what they computed, so the refusal is a coded message rather than the database's error."""
    if value.is_finite() and bound.minimum <= value <= bound.maximum:
        return value
    said = what or field
    shown = f"{value:,}" if value.is_finite() and value.adjusted() < 30 else _shown(value)
    raise ApplicationError(code=bound.range_code,
                           message=f"{said} would be {shown}{bound.unit}; it must be from "
                                   f"{bound.show(bound.minimum)} to {bound.show(bound.maximum)}.", field=field)


# --- The database holds the same bound -----------------------------------------------------------------------------

BOUNDED_SUFFIX = "_bounded"


def bounded(field: str, bound: Bound, *, null: bool = False, minimum: Decimal | int | None = None
            ) -> models.CheckConstraint:
    """A check constraint keeping column `field` within `bound` (NULL allowed when `null`). Whole-number bounds are
    written as integers so the constraint reads the same on SQLite and PostgreSQL."""
    low = bound.minimum if minimum is None else Decimal(minimum)

    def literal(value: Decimal) -> Decimal | int:
        return int(value) if value == value.to_integral_value() else value

    condition = models.Q(**{f"{field}__gte": literal(low), f"{field}__lte": literal(bound.maximum)})
    if null:
        condition |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(
        condition=condition, name=f"%(app_label)s_%(class)s_{field}{BOUNDED_SUFFIX}",
        violation_error_message=f"{field} must be from {bound.show(low)} to {bound.show(bound.maximum)}.")


def column_of(condition: models.Q) -> str:
    """The one field a `bounded()` condition is about ("amount" in amount__gte)."""
    children: list[Any] = list(condition.children)
    while children:
        child = children.pop(0)
        if isinstance(child, models.Q):
            children.extend(child.children)
        else:
            return child[0].split("__", 1)[0]
    raise ValueError("a condition without a lookup")


@dataclass(frozen=True)
class StoredValue:
    """A stored value outside its bound, read as the database's text (so an overflowing value is shown, not fatal)."""

    table: str
    column: str
    pk: Any
    raw: str
    constraint: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column} id={self.pk}: {self.raw!r} breaks {self.constraint}"


def bounded_constraints(model: Any) -> list[models.CheckConstraint]:
    return [c for c in model._meta.constraints
            if isinstance(c, models.CheckConstraint) and c.name.endswith(BOUNDED_SUFFIX)]


def stored_out_of_range(model: Any, constraints: Iterable[models.CheckConstraint] | None = None,
                        *, using: str = "default") -> list[StoredValue]:
    """Rows of `model` whose value breaks one of its bound constraints (all of them when none are given).

    The value is read cast to text in SQL, never through the Decimal converter: on SQLite a value beyond the
    column's digits (1e20 in a 16-digit column) or a NaN stored as text makes that converter raise, which is
    exactly the row this has to report. Works with a migration's historical models too."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    found = []
    for constraint in bounded_constraints(model) if constraints is None else constraints:
        condition = constraint.condition
        assert isinstance(condition, models.Q)  # bounded() writes a Q
        column = column_of(condition)
        rows = (model._base_manager.using(using).filter(~condition).order_by("pk")
                .annotate(psops_raw=Cast(column, output_field=TextField())).values_list("pk", "psops_raw"))
        found += [StoredValue(model._meta.db_table, column, pk, str(raw), constraint.name) for pk, raw in rows]
    return found


def refuse_stored_out_of_range(model: Any, constraints: Iterable[models.CheckConstraint], *,
                               using: str = "default") -> None:
    """For a migration that adds bound constraints: stop with a readable list of the rows that would break them
    (instead of the database's bare "check constraint failed"), so they are repaired first."""
    found = stored_out_of_range(model, list(constraints), using=using)
    if found:
        listed = "; ".join(str(value) for value in found[:20])
        raise ApplicationError(code="amount-out-of-range",
                               message=f"{len(found)} stored value(s) are outside their bounds; repair them, then "
                                       f"migrate again (`psops check_amounts` lists them all): {listed}")
