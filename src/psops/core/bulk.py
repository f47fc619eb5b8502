"""Set-based writes that Django's ORM does not offer cheaply.

`update_each` gives many rows each their own values in one statement: an UPDATE joined to a VALUES list (a hash
join), where Django's `bulk_update` builds a CASE WHEN per row and field (quadratic in SQL, and about 0.3 ms of
Python per row and field to build). It runs on PostgreSQL and on SQLite 3.33 or newer (UPDATE ... FROM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

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
