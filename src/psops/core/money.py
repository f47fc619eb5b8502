"""Money as Decimal with an ISO currency. Never float.

Amounts are quantized in Python before they are saved because SQLite and PostgreSQL round an over-precise Decimal
differently.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models

from .errors import ApplicationError

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
    return value.quantize(Decimal(1).scaleb(-places(currency)), rounding=ROUND_HALF_UP)


def parse_amount(raw: object, currency: str = "USD", *, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """Parse user input into a quantized amount, refusing floats, garbage and (by default) negatives."""
    if isinstance(raw, float | bool):
        raise ApplicationError(code="invalid-amount", message=f"{field} must be a decimal amount, not {raw!r}.",
                               field=field)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ApplicationError(code="invalid-amount", message=f"{field} '{raw}' is not an amount of money.",
                               field=field) from exc
    if not value.is_finite():
        raise ApplicationError(code="invalid-amount", message=f"{field} '{raw}' is not an amount of money.",
                               field=field)
    if value < 0 and not allow_negative:
        raise ApplicationError(code="invalid-amount", message=f"{field} may not be negative ({raw}).", field=field)
    return quantize(value, currency)


def check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ApplicationError(code="invalid-currency", message=f"Unknown currency '{currency}'.", field="currency")
    return currency


def fmt(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return f"— {currency}"
    return f"{currency} {quantize(amount, currency):,}"


class MoneyField(models.DecimalField):
    """A Decimal amount column (its currency lives in a sibling `currency` field of the same record)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "psops.core.money.MoneyField", args, kwargs


def currency_field(**kwargs) -> models.CharField:
    kwargs.setdefault("default", "USD")
    return models.CharField(max_length=3, choices=CURRENCY_CHOICES, **kwargs)
