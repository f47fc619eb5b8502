"""`psops rom TEMPLATE [name=value ...] [--json]`: a ROM estimate from the active tables, printed, not saved.

Bad input (unknown template, SKU or question, a value that is not a whole number, a negative number, an argument
without `=`) exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, handle_default_options
from django.db import DatabaseError, connections

from psops.core.errors import ApplicationError
from psops.core.money import quantize
from psops.estimating.calculator import TEMPLATES, Estimate, calculate, tables_from_db, template_spec

BAD_INPUT = 2


def parse_assignments(arguments: list[str]) -> dict[str, str]:
    """`name=value` arguments into a dict, refusing anything else and names given twice."""
    answers: dict[str, str] = {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ApplicationError(code="not-name-value",
                                   message=f"Argument '{argument}' is not name=value (for example GL-CICD-R=2).")
        if name in answers:
            raise ApplicationError(code="duplicate-answer", message=f"{name} is given more than once.", field=name)
        answers[name] = value
    return answers


def _amount(value: Decimal | None, currency: str) -> str:
    return "-" if value is None else f"{quantize(value, currency):,}"


def render_table(estimate: Estimate) -> str:
    """A readable plain-text rendering of an estimate."""
    currency = estimate.currency
    versions = ", ".join(f"{name} v{v}" if v is not None else f"{name} (package CSV)"
                         for name, v in estimate.table_versions.items())
    rows = [(line.code, str(line.quantity), line.description, _amount(line.low, currency),
             _amount(line.high, currency)) for line in estimate.lines]
    total = ("TOTAL", "", "", _amount(estimate.low, currency), _amount(estimate.high, currency))
    header = ("CODE", "QTY", "DESCRIPTION", f"LOW {currency}", f"HIGH {currency}")
    widths = [max(len(row[i]) for row in [header, total, *rows]) for i in range(5)]

    def fmt_row(row: tuple[str, ...]) -> str:
        return (f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}  "
                f"{row[4]:>{widths[4]}}").rstrip()

    out = [f"ROM {estimate.template} ({versions})", "", fmt_row(header)]
    out += [fmt_row(row) for row in rows]
    out += ["-" * len(fmt_row(header)), fmt_row(total)]
    if estimate.flags:
        out += ["", "Flags:"] + [f"  ! {flag.code}: {flag.message}" for flag in estimate.flags]
    if estimate.assumptions:
        out += ["", "Assumptions:"] + [f"  - {text}" for text in estimate.assumptions]
    return "\n".join(out)


class Command(BaseCommand):
    help = (f"Estimate a ROM with the services calculator and the active tables (nothing is saved). Templates: "
            f"{', '.join(TEMPLATES)}. Answers are name=value with whole numbers, e.g. `psops rom price-book "
            f"GL-CICD-R=2 attendees=15` or `psops rom sm-to-saas users=800 projects=2500 large_repos=11`.")
    # A calculator: no need to run the whole project's system checks first.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("template", help=f"one of: {', '.join(TEMPLATES)}")
        parser.add_argument("answers", nargs="*", metavar="name=value", help="an answer, e.g. GL-CICD-R=2")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Usage errors raise CommandError (one line, status 2) instead of argparse's usage text.
        parser.called_from_command_line = False
        return parser

    def run_from_argv(self, argv):
        """Like BaseCommand's, but every refusal is one line on stderr and exit status 2, never a traceback."""
        self._called_from_command_line = True
        try:
            parser = self.create_parser(argv[0], argv[1])
            options = parser.parse_args(argv[2:])
            cmd_options = vars(options)
            args = cmd_options.pop("args", ())
            handle_default_options(options)
            self.execute(*args, **cmd_options)
        except (CommandError, ApplicationError) as exc:
            message = exc.message if isinstance(exc, ApplicationError) else str(exc)
            code = f" [{exc.code}]" if isinstance(exc, ApplicationError) else ""
            message = message.removeprefix("Error: ")
            self.stderr.write(" ".join(f"rom: {message}{code}".split()))
            sys.exit(BAD_INPUT)
        except DatabaseError as exc:
            self.stderr.write(" ".join(f"rom: database error: {exc} (has `psops migrate` run?)".split()))
            sys.exit(1)
        finally:
            connections.close_all()

    def handle(self, *args, **options):
        template = options["template"]
        try:
            template_spec(template)
            estimate = calculate(template, parse_assignments(options["answers"]), tables_from_db())
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} [{exc.code}]", returncode=BAD_INPUT) from exc
        if options.get("json"):
            self.stdout.write(json.dumps(estimate.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(render_table(estimate))
