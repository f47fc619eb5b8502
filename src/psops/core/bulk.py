"""Set-based writes that Django's ORM does not offer cheaply.

`insert_each` writes many new rows with multi-row INSERTs from plain tuples, where `bulk_create` first builds a
model instance per row and prepares every field of it (about half of the time of a 100,000-row import, and on
PostgreSQL an array per column besides). For rows whose ids are not needed back (timeline events, contacts).

`update_each` gives many rows each their own values in one statement: an UPDATE joined to a VALUES list (a hash
join), where Django's `bulk_update` builds a CASE WHEN per row and field (quadratic in SQL, and about 0.3 ms of
Python per row and field to build). It runs on PostgreSQL and on SQLite 3.33 or newer (UPDATE ... FROM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

CHUNK = 500


def update_each(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Set `fields` of each row given as (pk, value, ...) to its own values, `CHUNK` rows a statement; returns how
    many rows were updated. Values are prepared by their model fields, as a save would prepare them."""
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # PostgreSQL types a VALUES column from its literals, so each value is cast to its column's type; SQLite stores
    # a value by its column's affinity, and a CAST there would read a date as a number.
    values = [f"v.column{k + 2}" for k in range(len(columns))]
    if connection.vendor == "postgresql":
        values = [f"CAST({v} AS {field.db_type(connection)})" for v, field in zip(values, columns, strict=True)]  # type: ignore[union-attr]
    assignments = ", ".join(f"{quote(field.column)} = {v}" for field, v in zip(columns, values, strict=True))  # type: ignore[union-attr,arg-type]
    table, pk = quote(meta.db_table), quote(meta.pk.column)  # type: ignore[union-attr]
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                params.append(row[0])
                params.extend(field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
                              for field, value in zip(columns, row[1:], strict=True))
            one = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
            # A VALUES list's columns are column1, column2, ... on both databases; the first is the row's key.
            cursor.execute(f"UPDATE {table} SET {assignments} "  # noqa: S608 (names from the model)
                           f"FROM (VALUES {', '.join([one] * len(chunk))}) AS v WHERE {table}.{pk} = v.column1",
                           params)
            updated += cursor.rowcount
    return updated


INSERT_PARAMS = 30_000  # below SQLite's 32,766 variables and PostgreSQL's 65,535 parameters a statement


def insert_each(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """INSERT `rows`, each the values of `fields` in order, as model instances would be saved (each value prepared
    by its field); the model's other columns take their defaults (`auto_now_add` or `timezone.now`: now), the same
    for every row. A default computed per row otherwise (other than an empty dict or list) must be given. Returns
    how many rows were written."""
    if not rows:
        return 0
    meta = model._meta
    given: list[Any] = [meta.get_field(name) for name in fields]
    now = timezone.now()
    rest, constants = [], []
    for field in meta.concrete_fields:
        if field.primary_key or field.name in fields:
            continue
        if (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
                or field.default is timezone.now):
            value: Any = now
        elif field.has_default() and callable(field.default) and field.default not in (dict, list):
            raise ValueError(f"insert_each: give {model.__name__}.{field.name}, whose default is computed per row")
        else:
            value = field.get_default()
        rest.append(field)
        constants.append(field.get_db_prep_save(value, connection))
    columns: list[Any] = [*given, *rest]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per = max(1, INSERT_PARAMS // len(columns))
    # Text, whole numbers, booleans and keys go to both drivers as they are; the others (dates, decimals, JSON)
    # are prepared by their fields.
    plain = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)
    prepare: list[Any] = [None if isinstance(field, plain) else field for field in given]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            params: list[Any] = []
            for row in chunk:
                params.extend(value if field is None else field.get_db_prep_save(value, connection)
                              for field, value in zip(prepare, row, strict=True))
                params.extend(constants)
            cursor.execute(head + ", ".join([one] * len(chunk)), params)  # noqa: S608 (names from the model)
    return len(rows)
