from django.contrib import admin

from .models import Holiday, TaskWorker, Timer


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


class TimerStateFilter(admin.SimpleListFilter):
    """Waiting, done, or given up: fixed choices, so the filter does not scan the table for its values."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting"), ("done", "Done"), ("failed", "Given up")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "waiting":
            return queryset.filter(done_at__isnull=True)
        if value == "done":
            return queryset.filter(done_at__isnull=False).exclude(outcome=Timer.FAILED)
        if value == "failed":
            return queryset.filter(outcome=Timer.FAILED)
        return queryset


@admin.register(Timer)
class TimerAdmin(ReadOnlyModelAdmin):
    """The timers: waiting, done, and given up after failing (outcome "failed", with the last error), which is where
    an administrator looks after a `timer.failed` event."""

    list_display = ["id", "kind", "subject_id", "due_at", "done_at", "outcome", "attempts", "retry_at"]
    list_filter = ["kind", TimerStateFilter]
    search_fields = ["=subject_id"]
    show_full_result_count = False  # no count of every timer ever armed on each page
