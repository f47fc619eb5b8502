from django.contrib import admin

from psops.core.admin import ReadOnlyInline, ReadOnlyModelAdmin

from .models import AcceptanceRequest, Assignment, ChangeOrder, Project, TimeEntry, WrapUp, WrapUpItem


class AssignmentInline(ReadOnlyInline):
    model = Assignment
    fk_name = "project"
    fields = ["engineer", "assigned_by", "created_at"]
    readonly_fields = ["created_at"]


class ChangeOrderInline(ReadOnlyInline):
    model = ChangeOrder
    fields = ["description", "amount", "created_by"]


class AcceptanceInline(ReadOnlyInline):
    model = AcceptanceRequest
    fields = ["kind", "contact", "state", "sent_at", "passive_at", "answered_at", "signed_name"]


@admin.register(Project)
class ProjectAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "state", "percent_complete", "engagement_manager", "kickoff_date", "go_live_date",
                    "completed_date", "acceptance"]
    list_filter = ["state", "acceptance"]
    list_select_related = ["engagement_manager"]
    inlines = [AssignmentInline, ChangeOrderInline, AcceptanceInline]


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyModelAdmin):
    list_display = ["date", "project", "engineer", "hours", "approved_by", "billed_key"]
    list_select_related = ["project", "engineer", "approved_by"]


class WrapUpItemInline(ReadOnlyInline):
    model = WrapUpItem
    fields = ["label", "done_by", "done_at", "note"]


@admin.register(WrapUp)
class WrapUpAdmin(ReadOnlyModelAdmin):
    list_display = ["project", "started_by", "started_at", "completed_at"]
    list_select_related = ["project", "started_by"]
    inlines = [WrapUpItemInline]
