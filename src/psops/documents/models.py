"""Documents people send and sign (issue 9): the templates they are made from, and every version made or uploaded.

A document points at its record (quote, SOW, invoice, ...) through a generic reference, as customer links do, and at
its deal (the engagement) directly, so that one engagement's documents are one indexed read and the deal's
visibility rules decide who may download them. Nothing here is ever changed once ready: regenerating makes the next
version and keeps the old ones, and the SHA-256 of each file is kept beside it so a page can say whether the stored
file is still byte for byte the one a customer was shown.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Kind(models.TextChoices):
    ROM_SUMMARY = "rom-summary", "ROM summary"
    QUOTE = "quote", "Quote"
    SOW = "sow", "Statement of work"
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit-note", "Credit note"
    SIGN_OFF = "sign-off", "Sign-off document"


class Format(models.TextChoices):
    PDF = "pdf", "PDF"
    DOCX = "docx", "Word"


class CompanyProfile(models.Model):
    """The company block every document prints: one row, edited by the administrator."""

    name = models.CharField(max_length=200, default="psops Professional Services")
    address = models.TextField(default="1 Market Street\nSan Francisco, CA 94105\nUnited States")
    email = models.EmailField(default="services@example.com")
    phone = models.CharField(max_length=40, blank=True)
    website = models.CharField(max_length=200, blank=True, default="www.example.com")
    tax_id = models.CharField("tax ID", max_length=60, blank=True)
    payment_instructions = models.TextField(blank=True, default="Pay by bank transfer quoting the invoice number.")
    logo = models.FileField(upload_to="company/", blank=True, help_text="PNG or JPEG, at most 512 KB.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "company profile"

    def __str__(self) -> str:
        return self.name


class DocumentTemplate(models.Model):
    """One version of the template of a kind of document in one format. Never changed: saving makes the next
    version, and the newest one is in use. A PDF template is HTML with Jinja fields (`body`); the Word template of
    the SOW is a .docx file with Jinja fields (docxtpl)."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.PDF)
    version = models.PositiveIntegerField()
    body = models.TextField(blank=True)
    file = models.FileField(upload_to="templates/", blank=True)
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "format", "-version"]
        constraints = [models.UniqueConstraint(fields=["kind", "format", "version"], name="one_template_version")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_format_display()}) template v{self.version}"


class Document(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Being generated"
        RENDERING = "rendering", "Being generated"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Origin(models.TextChoices):
        GENERATED = "generated", "Generated"
        UPLOADED = "uploaded", "Uploaded"

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    opportunity = models.ForeignKey("crm.Opportunity", on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    version = models.PositiveIntegerField()
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.GENERATED)
    template = models.ForeignKey(DocumentTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="documents")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="documents/%Y/%m/", blank=True, max_length=200)
    filename = models.CharField(max_length=120)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    # SHA-256 of the facts the document was made from (printed in its footer; see documents.sources).
    content_sha256 = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id", "kind", "format", "version"],
                                    name="one_document_version"),
            models.CheckConstraint(condition=~models.Q(state="ready") | ~models.Q(sha256=""),
                                   name="ready_document_has_hash"),
        ]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "kind", "format", "-version"],
                         name="document_by_subject"),
            models.Index(fields=["opportunity", "kind"], name="document_by_deal"),
            # The render queue: waiting documents, oldest first.
            models.Index(fields=["created_at", "id"], name="document_queue",
                         condition=models.Q(state__in=["queued", "rendering"])),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version} ({self.get_format_display()})"

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @property
    def waiting(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RENDERING)

    @property
    def content_type(self) -> str:
        return MIME[self.format]


MIME: dict[str, str] = {
    Format.PDF: "application/pdf",
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
