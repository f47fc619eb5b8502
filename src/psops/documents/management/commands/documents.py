"""`psops documents export (--engagement ID | --all) --out DIR`: the current version of every document of the
chosen engagements, with a manifest.json (engagement, kind, format, version, SHA-256, file). `psops documents render`
makes the documents waiting in the queue now, without a worker.

Exit status: 0 when done; 1 when a stored file no longer matches its recorded SHA-256 (it is written all the same,
and named); 2 with one line on bad arguments."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from psops.core.errors import ApplicationError
from psops.documents.exports import documents_export
from psops.documents.services import documents_render_queued


def _refuse(message: str):
    """Bad arguments: one line and exit status 2, not the usage text."""
    sys.stderr.write(f"Error: {message} (see psops documents --help)\n")
    sys.exit(2)


class OneLineParser(CommandParser):
    def error(self, message):
        _refuse(message)


class Command(BaseCommand):
    help = "Export the documents of engagements with a manifest, or make the queued documents now."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = _refuse  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, parser_class=OneLineParser,
                                        metavar="{export,render}")
        export = actions.add_parser("export", help="write the current documents and manifest.json to a folder")
        which = export.add_mutually_exclusive_group(required=True)
        which.add_argument("--engagement", metavar="ID", help="the deal's number, as in /opportunities/ID/")
        which.add_argument("--all", action="store_true", help="every engagement that has documents")
        export.add_argument("--out", required=True, metavar="DIR", help="the folder to write (created if missing)")
        actions.add_parser("render", help="make every document waiting in the queue now")

    def handle(self, *args, action: str, **options):
        if action == "render":
            made = total = 0
            while made := documents_render_queued():
                total += made
            self.stdout.write(f"Made {total} document{'s' * (total != 1)}.")
            return
        engagement = options.get("engagement")
        if engagement is not None and not str(engagement).isdigit():
            raise CommandError(f"--engagement takes a deal's number (e.g. 12), not '{engagement[:40]}'.",
                               returncode=2)
        try:
            report = documents_export(out=options["out"], engagement=int(engagement) if engagement else None)
        except ApplicationError as refusal:
            raise CommandError(refusal.message, returncode=2) from refusal
        self.stdout.write(report.summary())
        if report.altered:
            for line in report.altered:
                self.stderr.write(line)
            sys.exit(1)
