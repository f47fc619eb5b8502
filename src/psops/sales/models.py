"""Quotes (step 8) and statements of work (step 9)."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from psops.core.errors import ApplicationError
from psops.core.money import MoneyField, currency_field
from psops.core.quantities import COUNT, MONEY, NET_DAYS, PERCENT, bounded

from .choices import DEFAULT_NET_DAYS, BillingTerms

# A live quote is one on its way to, with, or accepted by the customer: at most one per PS opportunity.
LIVE_QUOTE_STATES = ("pending-approval", "approved", "sent", "accepted")


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
        WITHDRAWN = "withdrawn", "Withdrawn by the rep"

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
    # The quote document the customer was shown when they accepted, and the SHA-256 of its file then.
    accepted_document = models.ForeignKey("documents.Document", null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    accepted_sha256 = models.CharField(max_length=64, blank=True)
    # The approval policy version in force when the quote was submitted: the one that judged it.
    policy = models.ForeignKey("approvals.ApprovalPolicy", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="quote_discount_in_range"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="quote_total_not_negative"),
            bounded("discount_percent", PERCENT), bounded("subtotal", MONEY), bounded("discount_amount", MONEY),
            bounded("total", MONEY),
            # At most one live quote per PS opportunity: two quotes can never be with the customer at once.
            models.UniqueConstraint(fields=["ps_opportunity"], condition=models.Q(state__in=LIVE_QUOTE_STATES),
                                    name="one_live_quote_per_ps_opportunity"),
        ]

    def __str__(self) -> str:
        return f"Q-{self.pk:05d}" if self.pk else "new quote"

    def facts(self) -> dict:
        """What the approval policy judges a quote by."""
        return {"discount": str(self.discount_percent), "billing_terms": self.billing_terms,
                "investment": self.investment, "high": str(self.total)}

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

    @transition(field=state, source=[State.DRAFT, State.PENDING_APPROVAL, State.APPROVED, State.SENT],
                target=State.WITHDRAWN)
    def withdraw(self):
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
        constraints = [models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="quote_line_price_ok"),
                       bounded("quantity", COUNT), bounded("unit_price", MONEY), bounded("amount", MONEY)]

    def __str__(self) -> str:
        return f"{self.code} x{self.quantity}"


# How a SOW's content is hashed for a new signature (see Sow.content).
CONTENT_SCHEME = 2

# Every term the signing page shows the customer: a signature must cover each of them.
SIGNED_TERMS = frozenset({"title", "scope", "deliverables", "assumptions", "out_of_scope", "acceptance_terms",
                          "currency", "price", "billing_terms", "net_days", "hourly_rate", "milestones"})


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
    # The approval policy version the internal review was judged under.
    review_policy = models.ForeignKey("approvals.ApprovalPolicy", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    sent_to = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SOW"
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="sow_price_not_negative"),
                       bounded("price", MONEY), bounded("net_days", NET_DAYS),
                       bounded("hourly_rate", MONEY, null=True)]
        # The reviewers' queue: SOWs in review, the oldest first.
        indexes = [models.Index(fields=["created_at", "id"], name="sow_in_review_by_age",
                                condition=models.Q(state="in-review"))]

    def __str__(self) -> str:
        return f"SOW-{self.pk:05d} v{self.version}" if self.pk else "new SOW"

    def save(self, *args, **kwargs):
        """A signed SOW never changes (a database trigger holds the same line below the ORM)."""
        if self.pk is not None and Sow.objects.filter(pk=self.pk, state=self.State.SIGNED).exists():
            raise ApplicationError(code="sow-signed", message=f"{self} is signed by the customer; it never changes.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ApplicationError(code="sow-kept", message="A SOW is never deleted; it is superseded by a new version.")

    def content(self, scheme: int = CONTENT_SCHEME) -> dict:
        """What the customer signs: every term the signing page shows, in this version.

        Scheme 1 (signatures made before the hourly rate and milestone dates were covered) is kept so that those
        signatures can still be checked against the text they covered."""
        milestones = list(self.milestones.all())
        content = {
            "sow": self.pk, "version": self.version, "title": self.title, "scope": self.scope,
            "deliverables": self.deliverables, "assumptions": self.assumptions, "out_of_scope": self.out_of_scope,
            "acceptance_terms": self.acceptance_terms, "currency": self.currency, "price": str(self.price),
            "billing_terms": self.billing_terms, "net_days": self.net_days,
            "milestones": [[m.name, str(m.amount)] for m in milestones],
        }
        if scheme >= 2:
            content["hourly_rate"] = None if self.hourly_rate is None else str(self.hourly_rate)
            content["milestones"] = [[m.name, str(m.amount), m.due_date.isoformat() if m.due_date else None]
                                     for m in milestones]
        return content

    def content_hash(self, scheme: int = CONTENT_SCHEME) -> str:
        return hashlib.sha256(json.dumps(self.content(scheme), sort_keys=True).encode()).hexdigest()

    def terms_not_covered(self, signature: SowSignature) -> list[str]:
        """The terms the customer saw that the signature's content leaves out (none for today's scheme)."""
        return sorted(SIGNED_TERMS - set(self.content(signature.hash_scheme)))

    def altered_since_signed(self, signature: SowSignature) -> bool:
        """Whether the SOW reads differently now from what the customer signed."""
        return self.version != signature.version or self.content_hash(signature.hash_scheme) != signature.content_hash

    def integrity_warning(self) -> str:
        """A sentence for every page that shows a signed SOW whose text is not what was signed; empty when sound."""
        signature = getattr(self, "signature", None) if self.state == self.State.SIGNED else None
        if signature is None:
            return "" if self.state != self.State.SIGNED else "Marked signed, but no signature is recorded."
        if self.altered_since_signed(signature):
            return (f"Altered after signing: {self} no longer reads as {signature.signed_name} signed it on "
                    f"{signature.signed_at:%Y-%m-%d}. Treat the signed revision as the contract.")
        missing = self.terms_not_covered(signature)
        if missing:
            return f"The signature predates psops covering these terms: {', '.join(missing)}."
        return ""

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
    due_date = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="milestone_amount_positive"),
                       bounded("amount", MONEY)]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if Sow.objects.filter(pk=self.sow_id, state=Sow.State.SIGNED).exists():
            raise ApplicationError(code="sow-signed", message=f"{self.sow} is signed; its milestones never change.")
        super().save(*args, **kwargs)


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
    # Which Sow.content scheme the hash covers (1: before the hourly rate and milestone dates were covered).
    hash_scheme = models.PositiveSmallIntegerField(default=1)
    version = models.PositiveIntegerField()
    # The SOW document (PDF) the customer was shown when they signed, and the SHA-256 of its file then.
    document = models.ForeignKey("documents.Document", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    document_sha256 = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.signed_name} ({self.signed_title})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ApplicationError(code="signature-kept", message="A signature never changes.")
        super().save(*args, **kwargs)
