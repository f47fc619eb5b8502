from django.contrib import admin

from psops.core.admin import ReadOnlyModelAdmin

from .models import CustomerLink


@admin.register(CustomerLink)
class CustomerLinkAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "purpose", "email", "subject_type", "subject_id", "expires_at", "used_at",
                    "revoked_at"]
    list_filter = ["purpose"]
    list_select_related = ["subject_type"]
    # The token hash is useless to a person and need not be shown.
    exclude = ["token_hash"]
