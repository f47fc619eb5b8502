"""Every list, as filtered and sorted on its page, to CSV or XLSX: the rows the page would show across all its pages.

Streamed in constant memory: the rows are read from the database in chunks (`iterator`), as plain values (no model
instances), and written out as they come. CSV goes straight to the response; XLSX is written by openpyxl's
write-only workbook (which keeps rows on disk, not in memory) to a temporary file, then streamed from it.

A cell that starts with "=", "+", "-", "@" or a tab is written with a leading apostrophe, so a customer's name typed
as a formula is never run by a spreadsheet (CSV/formula injection).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from psops.approvals.models import ApprovalRequest
from psops.billing.models import CollectionCase, Invoice
from psops.crm.choices import Segment, Stage
from psops.delivery.models import Project

CHUNK = 2000
RISKY_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    path: str  # a field path for values_list, from the list's model
    labels: dict | None = None  # stored code -> what the page shows


def _labels(choices) -> dict:
    return dict(choices)


COLUMNS: dict[str, tuple[Column, ...]] = {
    "deals": (Column("Account", "account__name"), Column("Deal", "name"),
              Column("Stage", "stage", _labels(Stage.choices)), Column("Segment", "segment", _labels(Segment.choices)),
              Column("Owner", "owner__username"),
              Column("Close date", "close_date"), Column("Currency", "currency"), Column("Amount", "amount"),
              Column("PS total", "ps_total"), Column("Id", "pk")),
    "approvals": (Column("Request", "title"), Column("Kind", "kind"),
                  Column("State", "state", _labels(ApprovalRequest.State.choices)),
                  Column("Submitted by", "submitted_by__username"), Column("Submitted", "submitted_at"),
                  Column("Decided", "decided_at"), Column("Id", "pk")),
    "projects": (Column("Project", "name"), Column("Account", "ps_opportunity__parent__account__name"),
                 Column("State", "state", _labels(Project.State.choices)), Column("Complete (%)", "percent_complete"),
                 Column("Go-live", "go_live_date"), Column("Currency", "sow__currency"), Column("Value", "sow__price"),
                 Column("Created", "created_at"), Column("Id", "pk")),
    "invoices": (Column("Invoice", "number"), Column("Account", "project__ps_opportunity__parent__account__name"),
                 Column("Project", "project__name"), Column("State", "state", _labels(Invoice.State.choices)),
                 Column("Currency", "currency"), Column("Amount", "amount"), Column("Balance", "balance"),
                 Column("Issued", "issue_date"), Column("Due", "due_date"), Column("Id", "pk")),
    "collections": (Column("Project", "project__name"),
                    Column("Account", "project__ps_opportunity__parent__account__name"),
                    Column("State", "state", _labels(CollectionCase.State.choices)),
                    Column("Currency", "project__sow__currency"), Column("Outstanding", "outstanding"),
                    Column("Oldest due", "oldest_due"), Column("Reminders sent", "reminder_level"),
                    Column("Last reminder", "last_reminder_at"), Column("Disputed", "disputed"), Column("Id", "pk")),
}


def _cell(value: Any, column: Column) -> Any:
    if column.labels is not None and value in column.labels:
        return str(column.labels[value])
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, str) and value.startswith(RISKY_START):
        return "'" + value
    return value


def rows(qs: QuerySet, columns: Iterable[Column]) -> Iterator[list[Any]]:
    """The list's rows as cells, read CHUNK at a time."""
    columns = tuple(columns)
    values = qs.values_list(*(c.path for c in columns))
    for row in values.iterator(chunk_size=CHUNK):
        yield [_cell(value, column) for value, column in zip(row, columns, strict=True)]


class _Echo:
    """A file-like object whose write returns what it is given, for csv.writer to stream through."""

    def write(self, value: str) -> str:
        return value


def _csv_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def csv_response(name: str, qs: QuerySet, columns: tuple[Column, ...]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # a byte-order mark, so a spreadsheet reads the file as UTF-8
        yield writer.writerow([c.header for c in columns])
        for row in rows(qs, columns):
            yield writer.writerow([_csv_text(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def xlsx_response(name: str, qs: QuerySet, columns: tuple[Column, ...], *, title: str) -> FileResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for text in (c.header for c in columns):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats: dict[type, str] = {Decimal: "#,##0.00", dt.date: "yyyy-mm-dd", dt.datetime: "yyyy-mm-dd hh:mm"}
    for row in rows(qs, columns):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            number_format = formats.get(type(value))
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (the response streams it, then closes and so deletes it)
    book.save(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=name,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


