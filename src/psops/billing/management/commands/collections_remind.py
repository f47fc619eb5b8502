"""`psops collections_remind`: the reminder run, for cron or by hand.

Every open, undisputed collection case with an invoice past due and no reminder in the last week gets its next
reminder (`billing.services.collection_remind_due`). Without `--as` the run acts as the system; with it, as that
Finance user, who must be allowed to run it. Exit status: 0 when the run went through (whether or not anything was
due), 2 on bad input or a refusal."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from psops.billing.services import collection_remind_due, reminder_run_summary
from psops.core.errors import ApplicationError


class Command(BaseCommand):
    help = ("Send the next reminder on every open, undisputed collection case that is overdue and was not reminded in "
            "the last week. Acts as the system unless --as names a Finance user.")

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", default=None, metavar="USERNAME",
                            help="the Finance user the reminders are sent as (default: the system)")

    def handle(self, *args, username: str | None = None, **options):
        user = None
        if username is not None:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named '{username}'.", returncode=2)
        try:
            sent = collection_remind_due(user=user)
        except ApplicationError as refusal:
            raise CommandError(refusal.message, returncode=2) from refusal
        self.stdout.write(reminder_run_summary(sent))
