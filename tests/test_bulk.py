"""`core.bulk.update_each`: many rows, each to its own values, in one statement, on SQLite and PostgreSQL alike."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from psops.billing.models import Invoice
from psops.core import bulk
from tests.test_batch_billing import drafts

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_of_every_type(people, monkeypatch):
    a, b, c = drafts(people, 3)
    monkeypatch.setattr(bulk, "CHUNK", 2)  # two statements: a chunk of two rows and one of one
    rows = [(a.pk, "Café \"O'Brien\" — 1", dt.date(2026, 1, 31), Decimal("0.10"), people["finance"].pk),
            (b.pk, "second", dt.date(2027, 12, 1), Decimal("12345.67"), None),
            (c.pk, "", None, Decimal("1.00"), people["controller"].pk)]
    with CaptureQueriesContext(connection) as ctx:
        updated = bulk.update_each(Invoice, ["description", "due_date", "amount", "issued_by"], rows)
    assert updated == 3 and len(ctx) == 2
    got = {i.pk: (i.description, i.due_date, i.amount, i.issued_by_id)
           for i in Invoice.objects.filter(pk__in=[a.pk, b.pk, c.pk])}
    assert got == {r[0]: r[1:] for r in rows}
    assert bulk.update_each(Invoice, ["description"], []) == 0
