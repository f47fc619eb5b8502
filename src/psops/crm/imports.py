"""Bringing a firm's accounts, contacts and open deals in from a Salesforce report export (CSV) or a spreadsheet
(XLSX), all or nothing.

The flow (decision 0020): the file is uploaded and kept; its columns are mapped to psops's fields (a saved preset, or
the built-in Salesforce one, proposes a mapping); the worker checks every row and writes a report of every refused
row; when nothing is refused the importer commits, and the worker writes everything in one transaction. Progress is
kept on the run as the worker goes. The file is read as a stream, twice (check, then commit), so memory stays flat
whatever its size.

What a row is:
- `account` (required): an account of that name (any case) is the existing one; otherwise a new account, owned by the
  row's owner. Rows of one account share it.
- `owner` (required): an active sales rep, by username, e-mail or full name.
- `contact_name` and `contact_email` (together or not at all), `contact_title`: a contact whose e-mail exists at the
  account is that one; otherwise a new contact.
- `deal` (the opportunity's name), with `close_date` (YYYY-MM-DD, or M/D/YYYY as Salesforce writes it), `amount`,
  `currency` (USD when empty), `stage` (psops's code or name, or Salesforce's standard stage names; 1-Discovery when
  empty) and `segment` (or the run's default segment): a deal of that name at that account, in psops or earlier in
  the file, is a duplicate and refused. A row without `deal` brings the account and contact only.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from psops.accounts import roles
from psops.core.errors import ApplicationError
from psops.core.money import CURRENCIES, parse_amount

from .choices import INACTIVITY_DAYS, INACTIVITY_STAGES, OPEN_STAGES, Segment, Stage

# psops field -> (what it is, required)
FIELDS: dict[str, tuple[str, bool]] = {
    "account": ("Account name", True),
    "owner": ("Owner (username, e-mail or full name of a sales rep)", True),
    "website": ("Account website", False),
    "contact_name": ("Contact name", False),
    "contact_email": ("Contact e-mail", False),
    "contact_title": ("Contact title", False),
    "deal": ("Opportunity name", False),
    "close_date": ("Close date", False),
    "amount": ("Amount", False),
    "currency": ("Currency", False),
    "stage": ("Stage", False),
    "segment": ("Segment", False),
}
# The columns of a Salesforce opportunities report exported as CSV, for each field.
SALESFORCE: dict[str, tuple[str, ...]] = {
    "account": ("Account Name",), "owner": ("Opportunity Owner", "Account Owner"), "website": ("Website",),
    "contact_name": ("Contact: Full Name", "Primary Contact", "Contact Name", "Full Name"),
    "contact_email": ("Email", "Contact: Email", "Contact Email"), "contact_title": ("Title", "Contact: Title"),
    "deal": ("Opportunity Name",), "close_date": ("Close Date",), "amount": ("Amount",),
    "currency": ("Opportunity Currency", "Currency"), "stage": ("Stage",), "segment": ("Segment", "Type"),
}
SALESFORCE_STAGES = {
    "prospecting": Stage.DISCOVERY, "qualification": Stage.DISCOVERY, "needs analysis": Stage.SCOPING,
    "value proposition": Stage.TECHNICAL_EVALUATION, "id. decision makers": Stage.TECHNICAL_EVALUATION,
    "perception analysis": Stage.TECHNICAL_EVALUATION, "proposal/price quote": Stage.PROPOSAL,
    "negotiation/review": Stage.NEGOTIATING,
}
MAX_BYTES = 200 * 1024 * 1024
MAX_ROWS = 500_000
LONGEST = {"account": 200, "website": 200, "contact_name": 200, "contact_title": 120, "deal": 200}
SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(code="invalid-file", message=message, field="file")


# --- Reading a file as (line, {column: text}) ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        try:
            reader = csv.reader(handle)
            for values in reader:
                if "\x00" in "".join(values):
                    raise _refuse("The file is not a CSV text file.")
                yield reader.line_num, [v.strip() for v in values]
        except UnicodeDecodeError as exc:
            raise _refuse("The file is not UTF-8 text; export it again as CSV UTF-8.") from exc
        except csv.Error as exc:
            raise _refuse(f"The CSV cannot be read: {exc}.") from exc


def _xlsx_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _refuse("The file is not an Excel workbook (.xlsx).") from exc
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_text(v) for v in values]
    finally:
        book.close()


def _opened(path: str, kind: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The file's column names (its first row, without trailing empty cells) and an iterator over the rows after."""
    rows = _xlsx_rows(path) if kind == "xlsx" else _csv_rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise _refuse("The file is empty.") from None
    names = [h.strip() for h in header]
    while names and not names[-1]:
        names.pop()
    return names, rows


def table(path: str, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's rows after its first (the column names), as {column: text}; blank rows are left out."""
    names, rows = _opened(path, kind)
    for count, (line, values) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise _refuse(f"The file has more than {MAX_ROWS:,} rows; split it.")
        if not any(values):
            continue
        if len([v for v in values[len(names):] if v]) > 0:
            raise _refuse(f"Line {line}: more values than the first line has column names.")
        yield line, {name: (values[i] if i < len(values) else "") for i, name in enumerate(names)}


def headers(path: str, kind: str) -> list[str]:
    names, _ = _opened(path, kind)
    if not names or len(set(names)) != len(names) or "" in names:
        raise _refuse("The first line must name each column once (no empty or repeated names).")
    return names


def proposed_mapping(columns: list[str], preset: dict[str, str] | None = None) -> dict[str, str]:
    """field -> column: the preset's where its column is in the file, else Salesforce's names, else a column named
    like the field itself."""
    by_lower = {c.lower(): c for c in columns}
    mapping = {}
    for field in FIELDS:
        wanted = [preset[field]] if preset and preset.get(field) else []
        wanted += [*SALESFORCE.get(field, ()), field, FIELDS[field][0]]
        found = next((by_lower[w.lower()] for w in wanted if w.lower() in by_lower), None)
        if found:
            mapping[field] = found
    return mapping


def check_mapping(mapping: dict[str, str], columns: list[str]) -> dict[str, str]:
    unknown = [f for f in mapping if f not in FIELDS]
    if unknown:
        raise ApplicationError(code="invalid-mapping", field="mapping",
                               message=f"Unknown fields: {', '.join(unknown)}.")
    mapping = {field: column for field, column in mapping.items() if column}
    for field, (label, required) in FIELDS.items():
        if required and field not in mapping:
            raise ApplicationError(code="invalid-mapping", field=field, message=f"Choose the column for: {label}.")
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise ApplicationError(code="invalid-mapping", field="mapping",
                               message=f"No such column in the file: {', '.join(missing)}.")
    return mapping


# --- Judging rows -------------------------------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    account: str
    owner_id: int
    website: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_title: str = ""
    deal: str = ""
    close_date: dt.date | None = None
    amount: Decimal = Decimal("0")
    currency: str = "USD"
    stage: str = Stage.DISCOVERY
    segment: str = ""


class Judge:
    """Judges rows one by one against the people and the choices of psops; what needs the database's records
    (existing accounts, contacts, deals) is asked in bulk by `duplicates` once every row has been read."""

    def __init__(self, default_segment: str) -> None:
        self.default_segment = default_segment
        self.owners = self._sales_reps()
        self.stages: dict[str, str] = {**SALESFORCE_STAGES}
        for value, label in Stage.choices:
            if value in OPEN_STAGES:
                self.stages[value.lower()] = value
                self.stages[str(label).lower()] = value
                self.stages[str(label).split("-", 1)[-1].lower()] = value
        self.segments = {}
        for value, label in Segment.choices:
            self.segments[value.lower()] = value
            self.segments[str(label).lower()] = value

    @staticmethod
    def _sales_reps() -> dict[str, int]:
        people = (get_user_model().objects.filter(is_active=True, groups__name=roles.SALES_REP)
                  .values_list("pk", "username", "email", "first_name", "last_name"))
        found: dict[str, int] = {}
        for pk, username, email, first, last in people:
            for key in (username, email, f"{first} {last}".strip()):
                if key:
                    found.setdefault(key.lower(), pk)
        return found

    def row(self, line: int, values: dict[str, str], mapping: dict[str, str]) -> tuple[Row | None, list[tuple]]:
        """The row, or None with its problems as (line, field, message)."""
        get = {field: values.get(column, "").strip() for field, column in mapping.items()}
        problems: list[tuple] = []

        def bad(field: str, message: str) -> None:
            problems.append((line, field, message))

        for field, longest in LONGEST.items():
            if len(get.get(field, "")) > longest:
                bad(field, f"At most {longest} characters.")
        if not get.get("account"):
            bad("account", "The account name is empty.")
        owner_id = self.owners.get(get.get("owner", "").lower())
        if owner_id is None:
            bad("owner", f"No active sales rep is '{get.get('owner', '')}'." if get.get("owner")
                else "The owner is empty.")
        name, email = get.get("contact_name", ""), get.get("contact_email", "").lower()
        if bool(name) != bool(email):
            bad("contact_email" if name else "contact_name", "A contact needs both a name and an e-mail address.")
        elif email:
            try:
                validate_email(email)
            except ValidationError:
                bad("contact_email", f"'{email}' is not an e-mail address.")
        row = Row(line=line, account=get.get("account", ""), owner_id=owner_id or 0, website=get.get("website", ""),
                  contact_name=name, contact_email=email, contact_title=get.get("contact_title", ""),
                  deal=get.get("deal", ""))
        if row.deal:
            self._deal(get, row, bad)
        return (None, problems) if problems else (row, [])

    def _deal(self, get: dict[str, str], row: Row, bad) -> None:
        raw_date = get.get("close_date", "")
        row.close_date = parse_date(raw_date)
        if row.close_date is None:
            bad("close_date", f"'{raw_date}' is not a date (YYYY-MM-DD or M/D/YYYY)." if raw_date
                else "A deal needs a close date.")
        row.currency = (get.get("currency") or "USD").upper()
        if row.currency not in CURRENCIES:
            bad("currency", f"Unknown currency '{row.currency}'.")
        else:
            try:
                row.amount = parse_amount((get.get("amount") or "0").replace(",", ""), row.currency)
            except ApplicationError as refused:
                bad("amount", refused.message)
        stage = get.get("stage", "")
        row.stage = self.stages.get(stage.lower(), "") if stage else Stage.DISCOVERY
        if not row.stage:
            bad("stage", f"'{stage}' is not an open stage of psops or Salesforce.")
        segment = get.get("segment", "") or self.default_segment
        row.segment = self.segments.get(segment.lower(), "")
        if not row.segment:
            bad("segment", f"'{segment}' is not a segment (large, pubsec, mid-market, smb)." if segment
                else "Choose a default segment for the rows without one.")


def parse_date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw[:10]) if len(raw) >= 10 and raw[4] == "-" else _slashed(raw)
    except ValueError:
        return None


def _slashed(raw: str) -> dt.date | None:
    found = SLASHED.match(raw)
    if found is None:
        return None
    month, day, year = (int(x) for x in found.groups())
    return dt.date(year, month, day)


# --- What exists already ------------------------------------------------------------------------------------------


CHUNK = 900  # account ids asked per query (under SQLite's limit of variables)


def existing_accounts(names: set[str]) -> dict[str, int]:
    """lower(name) -> id of the accounts already in psops among `names` (lower-cased). One read of every account's
    name, matched here: a firm's accounts are some hundred thousand names at most, and asking the database for each
    name in any case would scan the table once per handful of names."""
    from .models import Account

    found: dict[str, int] = {}
    for pk, name in Account.objects.values_list("pk", "name").iterator(chunk_size=5000):
        key = name.lower()
        if key in names:
            found[key] = pk
    return found


def existing_pairs(model, account_ids: set[int], field: str) -> set[tuple[int, str]]:
    """(account id, lower(value of `field`)) of the contacts or deals already at those accounts."""
    pairs: set[tuple[int, str]] = set()
    ids = sorted(account_ids)
    for start in range(0, len(ids), CHUNK):
        for account_id, value in model.objects.filter(account_id__in=ids[start:start + CHUNK]).values_list(
                "account_id", field):
            pairs.add((account_id, value.lower()))
    return pairs


def inactivity_due(segment: str, now: dt.datetime) -> dt.datetime:
    warn_days, _ = INACTIVITY_DAYS[Segment(segment)]
    return now + dt.timedelta(days=warn_days)


WATCHED_STAGES = set(INACTIVITY_STAGES)
TODAY = timezone.localdate
