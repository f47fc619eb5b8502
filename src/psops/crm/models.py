from django.conf import settings
from django.db import models
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from psops.core.money import MoneyField, currency_field
from psops.core.quantities import MONEY, bounded

from .choices import OPEN_STAGES, PS_OPEN_STAGES, LossReason, PSStage, Segment, Stage


class Account(models.Model):
    """The customer company."""

    name = models.CharField(max_length=200, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="accounts")
    website = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at the customer. Contacts have no account in psops; they act through private links."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    title = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "email"], name="contact_email_unique_per_account")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Opportunity(ConcurrentTransitionMixin, models.Model):
    """The sales deal: the parent of PS opportunities. It carries no PS amount (see PSOpportunity)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="opportunities")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities")
    # The deal team beside its owner: the solutions architect who scopes and builds the ROM, and the TAM who scopes
    # where there is no SA and may send the sign-off. Each has a queue of their own (psops.workflow.selectors).
    solutions_architect = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                            blank=True, related_name="deals_as_architect")
    tam = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="deals_as_tam")
    amount = MoneyField(default=0)
    currency = currency_field()
    close_date = models.DateField()
    segment = models.CharField(max_length=12, choices=Segment.choices)
    stage = FSMField(default=Stage.PENDING_ACCEPTANCE, choices=Stage.choices, protected=True)
    stage_changed_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    inactivity_warned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["close_date", "id"], name="deal_by_close"),  # the deals list's default sort
            # Open deals, the soonest to close first: the sales rep's queue and the calculator's deal picker.
            models.Index(fields=["close_date", "id"], name="deal_open_by_close",
                         condition=models.Q(stage__in=[s.value for s in OPEN_STAGES])),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="opportunity_amount_not_negative"),
            bounded("amount", MONEY),
        ]

    def __str__(self) -> str:
        return f"{self.account.name}: {self.name}"

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    # One transition; the service decides which moves are allowed for whom (forward for owners, back for
    # administrators with a reason).
    @transition(field=stage, source="*", target=RETURN_VALUE(*Stage.values))
    def move_to(self, stage: str) -> str:
        return stage


class PSOpportunity(ConcurrentTransitionMixin, models.Model):
    """The child professional-services opportunity (step 4). The only record that carries a PS amount (step 5)."""

    parent = models.ForeignKey(Opportunity, on_delete=models.PROTECT, related_name="ps_opportunities")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ps_opportunities")
    ps_amount = MoneyField()
    currency = currency_field()
    stage = FSMField(default=PSStage.ROM_APPROVAL, choices=PSStage.choices, protected=True)
    loss_reason = models.CharField(max_length=20, choices=LossReason.choices, blank=True)
    loss_note = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "PS opportunity"
        verbose_name_plural = "PS opportunities"
        # The engineers' queue of accepted quotes waiting for their SOW starts from the PS opportunities at that stage.
        indexes = [models.Index(fields=["stage"], name="ps_by_stage")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ps_amount__gte=0), name="ps_amount_not_negative"),
            bounded("ps_amount", MONEY),
            models.CheckConstraint(
                condition=~models.Q(stage=PSStage.CLOSED_LOST) | ~models.Q(loss_reason=""),
                name="closed_lost_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage in PS_OPEN_STAGES

    @transition(field=stage, source=PSStage.ROM_APPROVAL, target=PSStage.APPROVED)
    def mark_rom_approved(self):
        pass

    @transition(field=stage, source=[PSStage.APPROVED, PSStage.ROM_APPROVAL], target=PSStage.ROM_APPROVAL)
    def mark_rom_revised(self):
        pass

    @transition(field=stage, source=[PSStage.APPROVED, PSStage.QUOTED], target=PSStage.QUOTED)
    def mark_quoted(self):
        pass

    @transition(field=stage, source=PSStage.QUOTED, target=PSStage.QUOTE_ACCEPTED)
    def mark_quote_accepted(self):
        pass

    @transition(field=stage, source=PSStage.QUOTED, target=PSStage.APPROVED)
    def mark_quote_declined(self):
        pass

    @transition(field=stage, source=[PSStage.QUOTE_ACCEPTED, PSStage.SOW_OUT], target=PSStage.SOW_OUT)
    def mark_sow_sent(self):
        pass

    @transition(field=stage, source=PSStage.SOW_OUT, target=PSStage.QUOTE_ACCEPTED)
    def mark_sow_returned(self):
        pass

    @transition(field=stage, source=PSStage.SOW_OUT, target=PSStage.SOW_SIGNED)
    def mark_sow_signed(self):
        pass

    @transition(field=stage, source=PSStage.SOW_SIGNED, target=PSStage.CLOSED_WON)
    def mark_closed_won(self):
        pass

    @transition(field=stage, source=PS_OPEN_STAGES, target=PSStage.CLOSED_LOST)
    def mark_closed_lost(self):
        pass


class ImportPreset(models.Model):
    """A saved column mapping (psops field -> the file's column name), proposed for the next file."""

    name = models.CharField(max_length=100, unique=True)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """One file brought in: uploaded, mapped, checked by the worker, then committed by it, all or nothing."""

    class State(models.TextChoices):
        MAPPING = "mapping", "Choose the columns"
        CHECKING = "checking", "Being checked"
        REFUSED = "refused", "Refused rows: correct the file"
        READY = "ready", "Checked: ready to import"
        IMPORTING = "importing", "Being imported"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=200)
    stored = models.CharField(max_length=300)  # the file's name in the default storage
    kind = models.CharField(max_length=4)  # csv | xlsx
    size = models.PositiveBigIntegerField()
    columns = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    default_segment = models.CharField(max_length=12, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.MAPPING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)  # the first MAX_ERRORS_KEPT: [line, field, message]
    summary = models.JSONField(default=dict)
    failure = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"], name="import_run_waiting")]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.filename})"
