"""Payments from a bank file (cash application): one CSV line per payment received, recorded all or none by
`services.payments_record`, which judges each line as it judges a payment entered by hand.

The file is UTF-8 text (a byte-order mark is allowed) whose first line names the columns, in any order:
`invoice` (its number, e.g. INV-00042), `amount` (in the invoice's currency, a dot for decimals, no thousands
separator), `received_on` (YYYY-MM-DD) and, optionally, `reference` (the bank's reference: with it, the same line
imported twice is refused as already recorded). Other columns are ignored."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

from psops.core.errors import ApplicationError

from .models import Invoice, Payment
from .services import BATCH_MAX, PaymentLine, payment_record_check, payments_record

COLUMNS = ("invoice", "amount", "received_on")
# A bank file of BATCH_MAX lines is well under this; a larger upload is refused before it is read.
MAX_BYTES = 1_000_000


def _refuse(message: str, code: str = "invalid-file") -> ApplicationError:
    return ApplicationError(code=code, message=message, field="file")


def read_payments(data: bytes) -> list[PaymentLine]:
    """The payment lines of a bank file, each with its line number; refuses, naming the line, what is not one."""
    if len(data) > MAX_BYTES:
        raise _refuse(f"The file is {len(data):,} bytes; a bank file may be at most {MAX_BYTES:,}. Split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse("The file is not UTF-8 text; save it from the spreadsheet as CSV UTF-8.") from exc
    if "\x00" in text:
        raise _refuse("The file is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        names = [(name or "").strip().lower() for name in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise _refuse("The first line names the columns: invoice, amount, received_on and optionally reference; "
                          f"missing: {', '.join(missing)}.")
        reader.fieldnames = names
        raw = []
        for row in reader:
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line
            line = reader.line_num
            if None in row:
                raise _refuse(f"Line {line}: more values than the first line has columns.")
            values = {k: (row.get(k) or "").strip() for k in (*COLUMNS, "reference")}
            raw.append((line, values))
            if len(raw) > BATCH_MAX:
                raise _refuse(f"The file has more than {BATCH_MAX:,} payments; split it.", code="batch-too-large")
    except csv.Error as exc:
        raise _refuse(f"Line {reader.line_num}: not valid CSV ({exc}).") from exc
    if not raw:
        raise _refuse("The file has no payments: only its first line, or nothing at all.")
    numbers = dict(Invoice.objects.filter(number__in={v["invoice"] for _, v in raw}).values_list("number", "pk"))
    lines = []
    for line, v in raw:
        if not v["invoice"]:
            raise _refuse(f"Line {line}: the invoice number is empty.")
        if v["invoice"] not in numbers:
            raise _refuse(f"Line {line}: there is no invoice numbered {v['invoice'][:40]}.")
        try:
            received_on = dt.date.fromisoformat(v["received_on"])
        except ValueError:
            raise _refuse(f"Line {line}: received_on '{v['received_on'][:40]}' is not a date (YYYY-MM-DD).") from None
        if len(v["reference"]) > Payment._meta.get_field("reference").max_length:  # type: ignore[operator]
            raise _refuse(f"Line {line}: the reference is longer than 100 characters.")
        lines.append(PaymentLine(invoice=numbers[v["invoice"]], amount=v["amount"], received_on=received_on,
                                 reference=v["reference"], line=line))
    return lines


def payments_import(*, user: Any, data: bytes) -> list[Payment]:
    """Record the payments of a bank file, all or none (Finance only: asked before the file is read)."""
    payment_record_check(user=user)
    return payments_record(user=user, lines=read_payments(data))


def import_summary(payments: list[Payment]) -> str:
    """What an import recorded, in words (the page and the command say the same)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for p in payments:
        totals[p.invoice.currency] += p.amount
    invoices = {p.invoice_id for p in payments}
    paid = sum(1 for i in {p.invoice_id: p.invoice for p in payments}.values() if i.state == Invoice.State.PAID)
    money = ", ".join(f"{currency} {total:,}" for currency, total in sorted(totals.items()))
    return (f"Recorded {len(payments)} payment{'s' * (len(payments) != 1)} on {len(invoices)} "
            f"invoice{'s' * (len(invoices) != 1)}: {money}; {paid} of them now paid in full.")
