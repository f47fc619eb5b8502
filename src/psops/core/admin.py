from django.contrib import admin

from .models import Holiday, TaskWorker


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name"]
    date_hierarchy = "date"


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Process records change only through services (with their checks and timeline); the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TaskWorker)
class TaskWorkerAdmin(ReadOnlyModelAdmin):
    """Task workers and their last heartbeat; the tasks themselves are under Django Tasks Database."""

    list_display = ["worker_id", "state", "hostname", "pid", "started_at", "seen_at", "stopped_at"]
    list_filter = ["state"]
    search_fields = ["worker_id", "hostname"]
