"""Search by any part of a name (decision 0013): trigram indexes on PostgreSQL, where `icontains` reads them.

Django asks `icontains` as UPPER(column) LIKE UPPER('%words%'), so each index is on UPPER(column) with the pg_trgm
operator class. pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. On SQLite there
is no such index: search reads the table, which is fine at the size a SQLite installation holds.
"""

from django.db import migrations

INDEXES = [
    ("crm_account_name_trgm", "crm_account", "name"),
    ("crm_contact_name_trgm", "crm_contact", "name"),
    ("crm_contact_email_trgm", "crm_contact", "email"),
    ("crm_opportunity_name_trgm", "crm_opportunity", "name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_list_indexes")]
    operations = [migrations.RunPython(create, drop)]
