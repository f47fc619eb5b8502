"""`psops payments_import FILE --as USER`: record the payments of a bank file (CSV), all or none.

The columns are described in `psops.billing.imports`. Exit status: 0 when every payment was recorded, 2 on bad input
or a refusal, with nothing recorded."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from psops.billing.imports import MAX_BYTES, import_summary, payments_import
from psops.core.errors import ApplicationError


class Command(BaseCommand):
    help = ("Record the payments of a bank file (CSV with the columns invoice, amount, received_on and optionally "
            "reference), all or none, as the Finance user --as names. FILE - reads standard input.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the CSV file, or - for standard input")
        parser.add_argument("--as", dest="username", required=True, metavar="USERNAME",
                            help="the Finance user the payments are recorded by")

    def handle(self, *args, file: str, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.", returncode=2)
        try:
            if file == "-":
                data = sys.stdin.buffer.read(MAX_BYTES + 1)
            else:
                with open(file, "rb") as handle:
                    data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from exc
        try:
            payments = payments_import(user=user, data=data)
        except ApplicationError as refusal:
            raise CommandError(f"{refusal.message} Nothing was recorded.", returncode=2) from refusal
        self.stdout.write(import_summary(payments))
