"""Immutability below the ORM: database triggers that refuse to change rows the process has fixed.

A service refuses first, with a coded message; `save()` refuses next; these triggers hold the line for anything
that bypasses both (a queryset update, raw SQL, a script). Each trigger is written for SQLite and PostgreSQL and
raises an integrity error that names the rule. Row deletion is left to foreign keys (PROTECT), so that test
databases can still be flushed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.schema import BaseDatabaseSchemaEditor


@dataclass(frozen=True)
class Fixed:
    """Rows of `table` never change on `events` (INSERT and/or UPDATE) when `when` holds (SQL over NEW/OLD)."""

    name: str
    table: str
    events: tuple[str, ...]
    what: str  # said in the error: "<what> never changes"
    when: str = ""  # a condition, written for both databases; empty: always


def _sqlite(rule: Fixed, event: str) -> str:
    when = f" WHEN {rule.when}" if rule.when else ""
    message = f"psops: {rule.what} never changes".replace("'", "''")
    return (f'CREATE TRIGGER "{rule.name}_{event.lower()}" BEFORE {event} ON "{rule.table}" FOR EACH ROW{when} '
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION psops_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'psops: % never changes', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql
"""


def _postgres(rule: Fixed, event: str) -> str:
    when = f" WHEN ({rule.when})" if rule.when else ""
    what = rule.what.replace("'", "''")
    return (f'CREATE TRIGGER "{rule.name}_{event.lower()}" BEFORE {event} ON "{rule.table}" FOR EACH ROW{when} '
            f"EXECUTE FUNCTION psops_refuse_change('{what}')")


def install(schema_editor: BaseDatabaseSchemaEditor, rules: list[Fixed]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)  # no placeholders: keep its % as is
    for rule in rules:
        for event in rule.events:
            if vendor == "sqlite":
                schema_editor.execute(_sqlite(rule, event))
            elif vendor == "postgresql":
                schema_editor.execute(_postgres(rule, event), params=None)


def remove(schema_editor: BaseDatabaseSchemaEditor, rules: list[Fixed]) -> None:
    vendor = schema_editor.connection.vendor
    for rule in rules:
        for event in rule.events:
            name = f"{rule.name}_{event.lower()}"
            if vendor == "sqlite":
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            elif vendor == "postgresql":
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{rule.table}"')
