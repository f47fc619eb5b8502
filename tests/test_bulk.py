"""`core.bulk`: many rows, each to its own values, in one statement (`update_each`), and new rows from plain tuples
(`insert_each`), on SQLite and PostgreSQL alike."""

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


def test_inserted_rows_read_back_as_the_orm_wrote_them(people, monkeypatch):
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from psops.activity.models import TimelineEvent
    from psops.crm.models import Account

    ct = ContentType.objects.get_for_model(Account)
    monkeypatch.setattr(bulk, "INSERT_PARAMS", 20)  # 9 columns: two rows a statement
    rows = [(people["sal"].pk, "", "x.done", "Café \"O'Brien\" — 1", ct.pk, 2**62, None, {"n": [1, "ü"]}),
            (None, "system", "x.done", "second", ct.pk, 7, None, {}),
            (None, "", "x.done", "", ct.pk, 8, None, {})]
    before = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        assert bulk.insert_each(TimelineEvent, ("actor", "actor_label", "verb", "message", "subject_type",
                                                "subject_id", "thread", "data"), rows) == 3
    assert len(ctx) == 2
    got = list(TimelineEvent.objects.filter(verb="x.done").order_by("pk")
               .values_list("actor", "actor_label", "verb", "message", "subject_type", "subject_id", "thread",
                            "data"))
    assert got == rows
    stamps = set(TimelineEvent.objects.filter(verb="x.done").values_list("created_at", flat=True))
    assert len(stamps) == 1 and before <= stamps.pop() <= timezone.now()  # the default: now, read back aware
    assert bulk.insert_each(TimelineEvent, ("verb",), []) == 0


def test_a_default_computed_per_row_must_be_given(monkeypatch):
    from psops.core.models import Timer

    monkeypatch.setattr(Timer._meta.get_field("outcome"), "default", lambda: "each row its own")
    with pytest.raises(ValueError, match="computed per row"):
        bulk.insert_each(Timer, ("kind", "subject_id", "due_at"), [("x", 1, None)])
