from django.contrib import admin
from django.utils import timezone

from psops.core.admin import ReadOnlyInline, ReadOnlyModelAdmin

from .ageing import bucket
from .models import CollectionAction, CollectionCase, CreditNote, Invoice, Payment, WriteOff


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["amount", "received_on", "reference", "recorded_by"]


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ["number", "amount", "reason", "issued_by"]


class WriteOffInline(ReadOnlyInline):
    model = WriteOff
    fields = ["amount", "reason", "state", "requested_by", "decided_by"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "project", "billing_key", "state", "amount", "currency", "issue_date", "due_date"]
    list_filter = ["state"]
    list_select_related = ["project"]
    inlines = [PaymentInline, CreditNoteInline, WriteOffInline]


class ActionInline(ReadOnlyInline):
    model = CollectionAction
    fields = ["kind", "level", "amount", "promised_for", "note", "by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(CollectionCase)
class CollectionCaseAdmin(ReadOnlyModelAdmin):
    list_display = ["project", "state", "outstanding", "oldest_due", "ageing", "reminder_level", "disputed",
                    "opened_at", "closed_at"]
    list_filter = ["state", "disputed"]
    list_select_related = ["project"]
    inlines = [ActionInline]

    @admin.display(description="Ageing")
    def ageing(self, obj):
        return bucket(obj.oldest_due, timezone.localdate()) if obj.outstanding else "-"
