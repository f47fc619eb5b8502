"""`psops invariants`: re-check every promise of the engagement chain; exit 1 when one is broken (for cron or CI)."""

from django.core.management.base import BaseCommand, CommandError

from psops.workflow import invariants


class Command(BaseCommand):
    help = "Check the engagement chain's invariants over the whole database; exits 1 when any is violated."

    def handle(self, *args, **options):
        broken = invariants.violations()
        for violation in broken:
            self.stdout.write(str(violation))
        if broken:
            raise CommandError(f"{len(broken)} broken promise(s) in the engagement chain.", returncode=1)
        self.stdout.write(f"All {len(invariants.INVARIANTS)} invariants hold.")
