"""Money as Decimal with an ISO currency. Never float.

Amounts are quantized in Python before they are saved because SQLite and PostgreSQL round an over-precise Decimal
differently. An amount a person gives is bounded (`psops.core.quantities.MONEY`: 0 to 999,999,999.99) and has at
most its currency's places; `parse_amount` is the one way in for services, `MoneyFormField` for forms.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core import validators
from django.db import models
from django.utils.functional import cached_property

from .errors import ApplicationError
from .quantities import MONEY, parse

# Minor units per ISO 4217; anything not listed uses two places.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3}
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF", "SEK", "NOK", "DKK", "INR", "SGD", "NZD"]
CURRENCY_CHOICES = [(c, c) for c in CURRENCIES]
ZERO = Decimal("0")


def places(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def quantize(amount: Decimal | int | str, currency: str = "USD") -> Decimal:
    """Round to the currency's minor unit, half up (commercial rounding)."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise ApplicationError(code="invalid-amount", message=f"'{amount}' is not an amount of money.") from exc
    if isinstance(amount, float):  # pragma: no cover - guarded by the type, kept as a belt
        raise ApplicationError(code="invalid-amount", message="Money is never a float.")
    if not value.is_finite():
        raise ApplicationError(code="invalid-amount", message=f"'{amount}' is not an amount of money.")
    try:
        return value.quantize(Decimal(1).scaleb(-places(currency)), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than any context holds: far beyond the ceiling of one amount
        raise ApplicationError(code=MONEY.range_code, message=f"{value:.3e} is beyond the ceiling of one amount, "
                                                              f"{MONEY.show(MONEY.maximum)}.") from exc


def parse_amount(raw: object, currency: str = "USD", *, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """Parse user input into an amount: refusing floats, garbage, NaN and Infinity, (by default) negatives, more
    places than the currency has, and anything above the ceiling of one amount (`MONEY`, code
    `amount-out-of-range`)."""
    minimum = -MONEY.maximum if allow_negative else None
    return parse(raw, MONEY, field=field, places=places(currency), minimum=minimum)


def check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ApplicationError(code="invalid-currency", message=f"Unknown currency '{currency}'.", field="currency")
    return currency


def fmt(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return f"— {currency}"
    return f"{currency} {quantize(amount, currency):,}"


class MoneyField(models.DecimalField):
    """A Decimal amount column (its currency lives in a sibling `currency` field of the same record).

    Its form field and its model validation hold the bound of one amount; each model also declares the same bound as
    a check constraint (`quantities.bounded`), so the database refuses what a script or a bug would slip past."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)

    @cached_property
    def validators(self):
        return [*super().validators, validators.MinValueValidator(MONEY.minimum),
                validators.MaxValueValidator(MONEY.maximum)]

    def formfield(self, **kwargs):
        from .formfields import MoneyFormField

        return super().formfield(**{"form_class": MoneyFormField, **kwargs})

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "psops.core.money.MoneyField", args, kwargs


def currency_field(**kwargs) -> models.CharField:
    kwargs.setdefault("default", "USD")
    return models.CharField(max_length=3, choices=CURRENCY_CHOICES, **kwargs)
