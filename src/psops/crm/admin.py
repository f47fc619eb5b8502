from django.contrib import admin

from psops.core.admin import ReadOnlyInline, ReadOnlyModelAdmin

from .models import Account, Contact, Opportunity, PSOpportunity
from .selectors import with_ps_total


class ContactInline(ReadOnlyInline):
    model = Contact
    fields = ["name", "email", "title"]


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "contacts__name", "contacts__email"]
    inlines = [ContactInline]


class PSOpportunityInline(ReadOnlyInline):
    model = PSOpportunity
    fields = ["name", "stage", "ps_amount", "currency"]


@admin.register(Opportunity)
class OpportunityAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "account", "owner", "segment", "stage", "amount", "ps_total", "currency", "close_date"]
    list_filter = ["stage", "segment"]
    list_select_related = ["account", "owner"]
    search_fields = ["name", "account__name"]
    inlines = [PSOpportunityInline]

    def get_queryset(self, request):
        return with_ps_total(super().get_queryset(request))

    @admin.display(description="PS total", ordering="ps_total")
    def ps_total(self, obj):
        return obj.ps_total


@admin.register(PSOpportunity)
class PSOpportunityAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "parent", "owner", "stage", "ps_amount", "currency", "loss_reason"]
    list_filter = ["stage", "loss_reason"]
    list_select_related = ["parent__account", "owner"]
    search_fields = ["name", "parent__name", "parent__account__name"]
