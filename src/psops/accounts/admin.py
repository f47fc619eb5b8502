from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import LoginFailure, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Organisation", {"fields": ("title", "manager")}))
    list_display = ["username", "first_name", "last_name", "email", "manager", "is_active"]
    list_filter = ["groups", "is_active"]
    list_select_related = ["manager"]


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Failed logins the throttle counts. Deleting a row forgives it (e.g. a colleague behind the same address)."""

    list_display = ["at", "username", "address"]
    search_fields = ["username", "address"]
    date_hierarchy = "at"
    readonly_fields = ["username", "address", "at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
