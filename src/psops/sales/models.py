"""Quotes (step 8) and statements of work (step 9)."""

import hashlib
import json

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from psops.core.money import MoneyField, currency_field

from .choices import DEFAULT_NET_DAYS, BillingTerms


class Quote(ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending-approval", "Waiting for approval"
        APPROVED = "approved", "Approved, ready to send"
        SENT = "sent", "Sent to the customer"
        ACCEPTED = "accepted", "Accepted by the customer"
        DECLINED = "declined", "Declined by the customer"
        EXPIRED = "expired", "Expired"
        REJECTED = "rejected", "Rejected internally"

    ps_opportunity = models.ForeignKey("crm.PSOpportunity", on_delete=models.PROTECT, related_name="quotes")
    rom_version = models.ForeignKey("estimating.RomVersion", on_delete=models.PROTECT, related_name="quotes")
    currency = currency_field()
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    billing_terms = models.CharField(max_length=20, choices=BillingTerms.choices,
                                     default=BillingTerms.FULL_ON_SIGNATURE)
    investment = models.BooleanField(default=False, help_text="Free services, paid for by the company.")
    valid_until = models.DateField()
    terms = models.TextField()
    subtotal = MoneyField(default=0)
    discount_amount = MoneyField(default=0)
    total = MoneyField(default=0)
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    sent_to = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="quote_discount_in_range"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="quote_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Q-{self.pk:05d}" if self.pk else "new quote"

    @transition(field=state, source=State.DRAFT, target=State.PENDING_APPROVAL)
    def submit(self):
        pass

    @transition(field=state, source=[State.DRAFT, State.PENDING_APPROVAL], target=State.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=State.PENDING_APPROVAL, target=State.DRAFT)
    def send_back(self):
        pass

    @transition(field=state, source=State.PENDING_APPROVAL, target=State.REJECTED)
    def reject(self):
        pass

    @transition(field=state, source=State.APPROVED, target=State.SENT)
    def send(self):
        pass

    @transition(field=state, source=State.SENT, target=State.ACCEPTED)
    def accept(self):
        pass

    @transition(field=state, source=State.SENT, target=State.DECLINED)
    def decline(self):
        pass

    @transition(field=state, source=[State.SENT, State.APPROVED], target=State.EXPIRED)
    def expire(self):
        pass


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_price = MoneyField()
    amount = MoneyField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="quote_line_price_ok")]

    def __str__(self) -> str:
        return f"{self.code} x{self.quantity}"


class Sow(ConcurrentTransitionMixin, models.Model):
    """The statement of work, written by a PSE from the PS SOW template after the customer accepts the quote."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in-review", "In internal review"
        APPROVED = "approved", "Approved, ready to send"
        SENT = "sent", "Sent for signature"
        SIGNED = "signed", "Signed by the customer"

    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="sow")
    ps_opportunity = models.ForeignKey("crm.PSOpportunity", on_delete=models.PROTECT, related_name="sows")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200)
    scope = models.TextField()
    deliverables = models.TextField()
    assumptions = models.TextField(blank=True)
    out_of_scope = models.TextField(blank=True)
    acceptance_terms = models.TextField()
    currency = currency_field()
    price = MoneyField()
    billing_terms = models.CharField(max_length=20, choices=BillingTerms.choices,
                                     default=BillingTerms.FULL_ON_SIGNATURE)
    net_days = models.PositiveIntegerField(default=DEFAULT_NET_DAYS)
    hourly_rate = MoneyField(null=True, blank=True, help_text="For time and materials.")
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    sent_to = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SOW"
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="sow_price_not_negative")]

    def __str__(self) -> str:
        return f"SOW-{self.pk:05d} v{self.version}" if self.pk else "new SOW"

    def content(self) -> dict:
        """What the customer signs: the text and figures of this version."""
        return {
            "sow": self.pk, "version": self.version, "title": self.title, "scope": self.scope,
            "deliverables": self.deliverables, "assumptions": self.assumptions, "out_of_scope": self.out_of_scope,
            "acceptance_terms": self.acceptance_terms, "currency": self.currency, "price": str(self.price),
            "billing_terms": self.billing_terms, "net_days": self.net_days,
            "milestones": [[m.name, str(m.amount)] for m in self.milestones.all()],
        }

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()

    @transition(field=state, source=State.DRAFT, target=State.IN_REVIEW)
    def submit_review(self):
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=[State.IN_REVIEW, State.APPROVED, State.SENT], target=State.DRAFT)
    def return_to_draft(self):
        pass

    @transition(field=state, source=State.APPROVED, target=State.SENT)
    def send(self):
        pass

    @transition(field=state, source=State.SENT, target=State.SIGNED)
    def sign(self):
        pass


class SowMilestone(models.Model):
    sow = models.ForeignKey(Sow, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    amount = MoneyField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="milestone_amount_positive")]

    def __str__(self) -> str:
        return self.name


class SowRevision(models.Model):
    """A frozen copy of each SOW version as it went to review (and as the customer signed it)."""

    sow = models.ForeignKey(Sow, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sow", "version"]
        constraints = [models.UniqueConstraint(fields=["sow", "version"], name="one_revision_per_version")]


class SowSignature(models.Model):
    sow = models.OneToOneField(Sow, on_delete=models.PROTECT, related_name="signature")
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    signed_name = models.CharField(max_length=200)
    signed_title = models.CharField(max_length=200)
    signed_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    content_hash = models.CharField(max_length=64)
    version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.signed_name} ({self.signed_title})"
