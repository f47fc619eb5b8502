"""The SOW project (steps 11, 13), completion acceptance and the financial wrap-up (step 14), sign-off (step 15)."""


from django.conf import settings
from django.db import models
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from psops.core.money import MoneyField, currency_field
from psops.core.quantities import HOURS, HOURS_IN_A_DAY, MONEY, PERCENT, bounded

# The states in which a project waits for its PS manager (to staff, kick off, wrap up, close or take off hold): their
# queue and the list filtered to it read the partial index below, so the two must name the same states.
STATES_TO_ADVANCE = ("created", "staffed", "kicked-off", "completed", "wrapped-up", "on-hold")


class Project(ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        CREATED = "created", "Created"
        STAFFED = "staffed", "Staffed"
        KICKED_OFF = "kicked-off", "Kicked off"
        IN_DELIVERY = "in-delivery", "In delivery"
        CLOSURE = "closure", "Closure (acceptance asked, 99%)"
        COMPLETED = "completed", "Completed (accepted, 100%)"
        WRAPPED_UP = "wrapped-up", "Wrapped up"
        CLOSED = "closed", "Closed"
        ON_HOLD = "on-hold", "On hold"
        CANCELLED = "cancelled", "Cancelled"

    class Acceptance(models.TextChoices):
        SIGNED = "signed", "Signed by the customer"
        PASSIVE = "passive", "Passive (no answer in 5 business days)"

    sow = models.OneToOneField("sales.Sow", on_delete=models.PROTECT, related_name="project")
    ps_opportunity = models.ForeignKey("crm.PSOpportunity", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    currency = currency_field()
    engagement_manager = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="managed_projects")
    engineers: models.ManyToManyField = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Assignment",
                                       through_fields=("project", "engineer"), related_name="projects")
    state = FSMField(default=State.CREATED, choices=State.choices, protected=True)
    held_from = models.CharField(max_length=20, blank=True)
    percent_complete = models.PositiveSmallIntegerField(default=0)
    kickoff_date = models.DateField(null=True, blank=True)
    go_live_date = models.DateField(null=True, blank=True)
    completed_date = models.DateField(null=True, blank=True)
    acceptance = models.CharField(max_length=10, choices=Acceptance.choices, blank=True)
    budget_hours = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SOW project"
        indexes = [
            models.Index(fields=["created_at", "id"], name="project_by_created"),  # the list's default sort
            models.Index(fields=["created_at", "id"], name="project_to_advance",
                         condition=models.Q(state__in=STATES_TO_ADVANCE)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(percent_complete__lte=100), name="percent_at_most_100"),
            bounded("percent_complete", PERCENT), bounded("budget_hours", HOURS),
        ]

    def __str__(self) -> str:
        return f"PRJ-{self.pk:05d} {self.name}" if self.pk else self.name

    @transition(field=state, source=[State.CREATED, State.STAFFED], target=State.STAFFED)
    def staff(self):
        pass

    @transition(field=state, source=State.STAFFED, target=State.KICKED_OFF)
    def kick_off(self):
        pass

    @transition(field=state, source=State.KICKED_OFF, target=State.IN_DELIVERY)
    def start_delivery(self):
        pass

    @transition(field=state, source=State.IN_DELIVERY, target=State.CLOSURE)
    def ask_acceptance(self):
        pass

    @transition(field=state, source=State.CLOSURE, target=State.IN_DELIVERY)
    def reopen_delivery(self):
        pass

    @transition(field=state, source=State.CLOSURE, target=State.COMPLETED)
    def complete(self):
        pass

    @transition(field=state, source=State.COMPLETED, target=State.WRAPPED_UP)
    def mark_wrapped_up(self):
        pass

    @transition(field=state, source=State.WRAPPED_UP, target=State.CLOSED)
    def close(self):
        pass

    @transition(field=state, source=[State.CREATED, State.STAFFED, State.KICKED_OFF, State.IN_DELIVERY],
                target=State.ON_HOLD)
    def hold(self):
        pass

    @transition(field=state, source=State.ON_HOLD,
                target=RETURN_VALUE(State.CREATED, State.STAFFED, State.KICKED_OFF, State.IN_DELIVERY))
    def resume(self) -> str:
        return self.held_from

    @transition(field=state, source=[State.CREATED, State.STAFFED, State.KICKED_OFF, State.IN_DELIVERY,
                                     State.ON_HOLD], target=State.CANCELLED)
    def cancel(self):
        pass


class Assignment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="assignments")
    engineer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "engineer"], name="engineer_once_per_project")]


class ChangeOrder(models.Model):
    """Added scope and value, agreed with the customer; it raises what may be billed."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="change_orders")
    description = models.CharField(max_length=300)
    amount = MoneyField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="change_order_positive"),
                       bounded("amount", MONEY)]


class TimeEntry(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="time_entries")
    engineer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries")
    date = models.DateField()
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    # Set when a time-and-materials invoice bills this entry, so it is billed once.
    billed_key = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["date", "id"]
        verbose_name_plural = "time entries"
        constraints = [models.CheckConstraint(condition=models.Q(hours__gt=0, hours__lte=24),
                                              name="hours_in_a_day"),
                       bounded("hours", HOURS_IN_A_DAY)]


class AcceptanceRequest(models.Model):
    """A notice asking the customer to accept the work as complete (step 14) or to sign off (step 15).

    Without an answer by `passive_at` (the start of the day after the 5th business day, the sending day counting
    as day 1) it is accepted passively.
    """

    class Kind(models.TextChoices):
        COMPLETION = "completion", "Completion acceptance"
        SIGN_OFF = "sign-off", "Sign-off document"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the customer"
        ACCEPTED = "accepted", "Accepted (signed)"
        REPLIED = "replied", "Accepted by reply"
        PASSIVE = "passive", "Accepted passively"
        REJECTED = "rejected", "Not accepted"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="acceptance_requests")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField()
    passive_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)
    signed_name = models.CharField(max_length=200, blank=True)
    signed_title = models.CharField(max_length=200, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # The sign-off document sent with the request, and the SHA-256 of the file the customer was shown when they
    # signed or replied.
    document = models.ForeignKey("documents.Document", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    document_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            # At most one open request of each kind per project.
            models.UniqueConstraint(fields=["project", "kind"], condition=models.Q(state="pending"),
                                    name="one_pending_acceptance_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.project}"

    @property
    def is_accepted(self) -> bool:
        return self.state in (self.State.ACCEPTED, self.State.REPLIED, self.State.PASSIVE)


class MilestoneAcceptance(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="milestone_acceptances")
    milestone = models.OneToOneField("sales.SowMilestone", on_delete=models.PROTECT, related_name="acceptance")
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(auto_now_add=True)


class WrapUp(models.Model):
    """The PSE's financial wrap-up checklist (step 14)."""

    project = models.OneToOneField(Project, on_delete=models.PROTECT, related_name="wrap_up")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    actual_hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    actual_cost = MoneyField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [bounded("actual_hours", HOURS, null=True), bounded("actual_cost", MONEY, null=True)]

    def __str__(self) -> str:
        return f"Wrap-up of {self.project}"


class WrapUpItem(models.Model):
    wrap_up = models.ForeignKey(WrapUp, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=30)
    label = models.CharField(max_length=200)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["wrap_up", "code"], name="wrapup_item_once")]

