from django.contrib import admin

from psops.core.admin import ReadOnlyInline, ReadOnlyModelAdmin

from .models import Quote, QuoteLine, Sow, SowMilestone, SowRevision, SowSignature


class QuoteLineInline(ReadOnlyInline):
    model = QuoteLine
    fields = ["code", "description", "quantity", "unit_price", "amount"]


@admin.register(Quote)
class QuoteAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "ps_opportunity", "state", "total", "currency", "discount_percent", "billing_terms",
                    "valid_until"]
    list_filter = ["state", "billing_terms"]
    list_select_related = ["ps_opportunity"]
    inlines = [QuoteLineInline]


class MilestoneInline(ReadOnlyInline):
    model = SowMilestone
    fields = ["name", "amount"]


class RevisionInline(ReadOnlyInline):
    model = SowRevision
    fields = ["version", "content_hash", "created_at"]
    readonly_fields = ["created_at"]


class SignatureInline(admin.StackedInline):
    model = SowSignature
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Sow)
class SowAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "ps_opportunity", "author", "state", "price", "currency", "billing_terms"]
    list_filter = ["state", "billing_terms"]
    list_select_related = ["ps_opportunity", "author"]
    inlines = [MilestoneInline, RevisionInline, SignatureInline]
