"""Set-based loading into the real tables: COPY on PostgreSQL, executemany in big batches on SQLite.

While a table is loaded its secondary indexes (and, on PostgreSQL, its foreign keys and unique constraints) are set
aside and built again afterwards, in one pass each: building an index once is far cheaper than maintaining it row by
row, and putting a foreign key or unique constraint back checks every loaded row against it (PostgreSQL validates the
constraint; on SQLite `PRAGMA foreign_key_check` and the unique indexes do). Check constraints and triggers stay in
place throughout, so every row is checked as it goes in.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection, models

BATCH = 20_000


def _db_value(field: models.Field, now: dt.datetime) -> Any:
    """A constant for a column the generator does not fill (a column added after it was written): the field's
    default as the database stores it."""
    if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
        return str(now.replace(tzinfo=None))
    value = field.get_default()
    if value is None:
        return None
    prepared = field.get_db_prep_save(value, connection)
    if isinstance(prepared, bool | int | str | float) or prepared is None:
        return prepared
    if isinstance(field, models.JSONField):
        import json

        return json.dumps(value)
    return str(prepared)


class Loader:
    def __init__(self, *, say=print):
        self.vendor = connection.vendor
        self.say = say
        self.set_aside: list[tuple[str, str]] = []  # (kind, SQL to put it back)
        self.tables: set[str] = set()
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    # --- indexes and constraints set aside while loading ----------------------------------------------------------

    def set_aside_for(self, models_: Sequence[type[models.Model]]) -> None:
        tables = [m._meta.db_table for m in models_]
        self.tables.update(tables)
        with connection.cursor() as cur:
            if self.vendor == "postgresql":
                for table in tables:
                    cur.execute(
                        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')", [table])
                    for name, kind, definition in cur.fetchall():
                        order = "3fk" if kind == "f" else "2unique"
                        self.set_aside.append((order, f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
                        cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                    cur.execute(
                        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
                        "AND c.conrelid = %s::regclass)", [table, table])
                    for name, definition in cur.fetchall():
                        self.set_aside.append(("1index", definition))
                        cur.execute(f'DROP INDEX "{name}"')
            else:
                marks = ",".join(["%s"] * len(tables))
                cur.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                            f"AND tbl_name IN ({marks})", tables)
                for name, definition in cur.fetchall():
                    self.set_aside.append(("1index", definition))
                    cur.execute(f'DROP INDEX "{name}"')

    def put_back(self) -> None:
        start = time.perf_counter()
        with connection.cursor() as cur:
            if self.vendor == "postgresql":
                cur.execute("SET maintenance_work_mem = '512MB'")
            for _, sql in sorted(self.set_aside, key=lambda item: item[0]):
                cur.execute(sql)
            if self.vendor == "sqlite":
                cur.execute("PRAGMA foreign_key_check")
                broken = cur.fetchall()
                if broken:
                    raise RuntimeError(f"{len(broken)} rows break a foreign key, e.g. {broken[:5]}")
        self.set_aside = []
        self.say(f"  indexes, unique constraints and foreign keys built and checked in "
                 f"{time.perf_counter() - start:.1f} s")

    # --- rows -------------------------------------------------------------------------------------------------------

    def load(self, model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]],
             now: dt.datetime) -> int:
        """Insert `rows` (tuples in the order of `columns`, database column names) into the model's table. Columns
        of the model not named get their default."""
        table = model._meta.db_table
        named = set(columns)
        extra = [(f.column, _db_value(f, now)) for f in model._meta.local_concrete_fields if f.column not in named]
        cols = list(columns) + [c for c, _ in extra]
        tail = tuple(v for _, v in extra)
        if tail:
            rows = (tuple(r) + tail for r in rows)
        start = time.perf_counter()
        count = 0
        quoted = ", ".join(f'"{c}"' for c in cols)
        if self.vendor == "postgresql":
            raw = connection.connection
            with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            raw = connection.connection
            sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(cols))})'
            cur = raw.cursor()
            iterator = iter(rows)
            while True:
                batch = list(islice(iterator, BATCH))
                if not batch:
                    break
                cur.executemany(sql, batch)
                count += len(batch)
            cur.close()
        self.counts[table] = self.counts.get(table, 0) + count
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - start
        return count

    # --- after loading ------------------------------------------------------------------------------------------------

    def reset_sequences(self, models_: Sequence[type[models.Model]]) -> None:
        from django.core.management.color import no_style

        statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
        if statements:
            with connection.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)

    def analyze(self) -> None:
        start = time.perf_counter()
        if self.vendor == "postgresql":
            # Outside a transaction: VACUUM sets the visibility map (index-only scans), as autovacuum would have.
            raw = connection.connection
            was = raw.autocommit
            raw.autocommit = True
            try:
                with raw.cursor() as cur:
                    for table in sorted(self.tables):
                        cur.execute(f'VACUUM (ANALYZE) "{table}"')
            finally:
                raw.autocommit = was
        else:
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        self.say(f"  vacuum/analyze in {time.perf_counter() - start:.1f} s")
