"""Invoices (step 12), payments, credit notes and collections (step 16)."""

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from psops.core.money import MoneyField, currency_field
from psops.core.quantities import MONEY, NET_DAYS, bounded


class Invoice(ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    project = models.ForeignKey("delivery.Project", on_delete=models.PROTECT, related_name="invoices")
    # What this invoice bills, unique per project, so that no event is billed twice: "signature", "completion",
    # "milestone:<id>", "time:<yyyy-mm>", "change-order:<id>".
    billing_key = models.CharField(max_length=40)
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    description = models.CharField(max_length=300)
    currency = currency_field()
    amount = MoneyField()
    net_days = models.PositiveIntegerField(default=30)
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Maintained by the services that move money, in the same transaction (decision 0009): what the customer has
    # paid, and what is still owed (0 unless the invoice is issued). `psops check_balances` recomputes both from the
    # payments, credit notes and write-offs.
    paid_to_date = MoneyField(default=0)
    open_balance = MoneyField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "billing_key"], condition=~models.Q(state="void"),
                                    name="bill_each_event_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="invoice_amount_positive"),
            bounded("amount", MONEY), bounded("net_days", NET_DAYS),
            bounded("paid_to_date", MONEY), bounded("open_balance", MONEY),
            models.CheckConstraint(condition=models.Q(paid_to_date__gte=0, paid_to_date__lte=models.F("amount")),
                                   name="invoice_paid_within_amount"),
            models.CheckConstraint(condition=models.Q(open_balance__gte=0, open_balance__lte=models.F("amount")),
                                   name="invoice_balance_within_amount"),
            models.CheckConstraint(condition=models.Q(state="issued") | models.Q(open_balance=0),
                                   name="invoice_owed_only_when_issued"),
        ]
        indexes = [
            # The open book: overdue and ageing by due date, the largest balances first.
            models.Index(fields=["due_date"], name="invoice_open_by_due", condition=models.Q(state="issued")),
            models.Index(fields=["-open_balance", "-id"], name="invoice_open_by_balance",
                         condition=models.Q(state="issued")),
            # A project's open invoices: its collection case's outstanding balance and oldest due date.
            models.Index(fields=["project", "due_date"], name="invoice_open_by_project",
                         condition=models.Q(state="issued")),
            models.Index(fields=["created_at", "id"], name="invoice_by_created"),  # the list's default sort
            models.Index(fields=["created_at", "id"], name="invoice_drafts", condition=models.Q(state="draft")),
        ]

    def __str__(self) -> str:
        return self.number or f"draft invoice #{self.pk}"

    @transition(field=state, source=State.DRAFT, target=State.ISSUED)
    def issue(self):
        pass

    @transition(field=state, source=State.ISSUED, target=State.PAID)
    def mark_paid(self):
        pass

    @transition(field=state, source=State.DRAFT, target=State.VOID)
    def void(self):
        pass


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = MoneyField()
    received_on = models.DateField()
    reference = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_on", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
                       bounded("amount", MONEY)]


class CreditNote(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=20, unique=True)
    amount = MoneyField()
    reason = models.CharField(max_length=300)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_positive"),
                       bounded("amount", MONEY)]


class WriteOff(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    amount = MoneyField()
    reason = models.CharField(max_length=300)
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="write_off_positive"),
                       bounded("amount", MONEY)]


class CollectionCase(models.Model):
    """After the wrap-up, Finance owns the engagement's open balance until it is paid or written off."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed (paid)"

    project = models.OneToOneField("delivery.Project", on_delete=models.PROTECT, related_name="collection")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    reminder_level = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    disputed = models.BooleanField(default=False)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Kept by the billing services in the transaction that moves the money (decision 0014), checked by the invariant
    # `collections-kept`: what the project's issued invoices still owe, and the oldest due date among them.
    outstanding = MoneyField(default=0)
    oldest_due = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [bounded("outstanding", MONEY)]
        indexes = [models.Index(fields=["oldest_due", "id"], name="case_open_by_due", condition=models.Q(state="open"))]

    def __str__(self) -> str:
        return f"Collection for {self.project}"


class CollectionAction(models.Model):
    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder"
        PROMISE = "promise", "Promise to pay"
        DISPUTE = "dispute", "Dispute opened"
        RESOLVED = "resolved", "Dispute resolved"
        NOTE = "note", "Note"

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(default=0)
    amount = MoneyField(null=True, blank=True)
    promised_for = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # Nobody for a reminder sent by the scheduled reminder run (`psops collections_remind`).
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                           related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [bounded("amount", MONEY, null=True)]
