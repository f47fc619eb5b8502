from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Organisation", {"fields": ("title", "manager")}))
    list_display = ["username", "first_name", "last_name", "email", "manager", "is_active"]
    list_filter = ["groups", "is_active"]
    list_select_related = ["manager"]
