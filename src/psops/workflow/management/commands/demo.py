from django.conf import settings
from django.core.management.base import BaseCommand

from psops.documents.models import Document
from psops.workflow.demo import DEMO_USERS, PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo users (password 'demo') and deals at different steps. Safe to run again."

    def handle(self, *args, **options):
        # The demo people's addresses are made up: their notifications stay in the in-app inbox, not on the console.
        previous = settings.EMAIL_BACKEND
        settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
        try:
            added = load_demo()
        finally:
            settings.EMAIL_BACKEND = previous
        if added:
            self.stdout.write(f"Demo deals added: {', '.join(added)}")
        else:
            self.stdout.write("Demo deals already present; nothing added.")
        self.stdout.write(f"\nDemo users (password '{PASSWORD}', demo only):")
        for username, _roles, first, last, title in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {first} {last}, {title}")
        waiting = Document.objects.filter(state__in=[Document.State.QUEUED, Document.State.RENDERING]).count()
        if waiting:
            self.stdout.write(f"\n{waiting} documents (invoices, ROM summaries) wait for the worker: `make run` starts "
                              "one; `psops documents render` makes them now.")
        self.stdout.write("\nLog in at /accounts/login/ ; administration at /admin/ (user admin).")
