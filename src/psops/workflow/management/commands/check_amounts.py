"""`psops check_amounts`: find stored money and quantities outside their bounds; exit 1 when there is any.

The database's check constraints keep new values in bounds; this finds what came before them, or past them (a
restored backup, SQL typed by hand). Values are read as the database's text, so a row that would crash a page (an
amount beyond the column's digits, a NaN) is listed rather than fatal. For cron or CI, like `psops invariants`.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from psops.core.quantities import bounded_constraints, stored_out_of_range


class Command(BaseCommand):
    help = "List stored money and quantities outside their bounds (docs/decisions/0007); exits 1 when any is found."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="the database to check (default: default)")

    def handle(self, *args, **options):
        using = options["database"]
        models = [m for m in apps.get_models() if m.__module__.startswith("psops.") and bounded_constraints(m)]
        found = []
        try:
            for model in models:
                found += stored_out_of_range(model, using=using)
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc} (has `psops migrate` run?)", returncode=2) from exc
        for value in found:
            self.stdout.write(str(value))
        columns = sum(len(bounded_constraints(m)) for m in models)
        if found:
            raise CommandError(f"{len(found)} stored value(s) outside their bounds; repair them (the bounds are in "
                               "psops.core.quantities).", returncode=1)
        self.stdout.write(f"All {columns} bounded columns hold values within their bounds.")
