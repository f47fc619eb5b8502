"""`psops invariants`: re-check every promise of the engagement chain; exit 1 when one is broken (for cron or CI)."""

from django.core.management.base import BaseCommand, CommandError

from psops.workflow import invariants


class Command(BaseCommand):
    help = ("Check the engagement chain's invariants over the whole database (or only those named, e.g. "
            "balances-kept); exits 1 when any is violated.")

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="invariant",
                            help="check only these: " + ", ".join(invariants.INVARIANTS))

    def handle(self, *args, **options):
        names = options["names"] or list(invariants.INVARIANTS)
        unknown = [name for name in names if name not in invariants.INVARIANTS]
        if unknown:
            raise CommandError(f"No invariant named {', '.join(unknown)}; the invariants are "
                               f"{', '.join(invariants.INVARIANTS)}.", returncode=2)
        broken = invariants.violations(names)
        for violation in broken:
            self.stdout.write(str(violation))
        if broken:
            raise CommandError(f"{len(broken)} broken promise(s) in the engagement chain.", returncode=1)
        self.stdout.write(f"All {len(names)} invariant(s) checked hold.")
