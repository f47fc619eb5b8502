"""Admin for the calculator's versioned tables and for ROM estimates.

A table version that is active, or that any ROM version was calculated from, is read-only: to change prices an
administrator copies it into a new inactive version, edits that, and activates it (one active version per kind).
ROM versions never change.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Max

from .models import (
    MigrationBand,
    MigrationMatrix,
    PriceBook,
    PriceBookItem,
    RateCard,
    RateCardActivity,
    Rom,
    RomVersion,
)

# Table kind -> the key ROM versions use in `table_versions`, and the name of its rows' relation.
_TABLE_KEYS = {PriceBook: ("price_book", "items"), MigrationMatrix: ("migration_matrix", "bands"),
               RateCard: ("rate_card", "activities")}


def _is_locked(obj) -> bool:
    if obj is None or obj.pk is None:
        return False
    if obj.is_active:
        return True
    key = _TABLE_KEYS[type(obj)][0]
    return RomVersion.objects.filter(**{f"table_versions__{key}": obj.version}).exists()


def _problem(obj) -> str | None:
    """Why a table version is not fit to be the active one, or None."""
    rows = list(getattr(obj, _TABLE_KEYS[type(obj)][1]).all())
    if not rows:
        return "it has no rows."
    if isinstance(obj, MigrationMatrix):
        cells = {(b.users_max, b.projects_max) for b in rows}
        users, projects = {u for u, _ in cells}, {p for _, p in cells}
        if len(cells) != len(users) * len(projects):
            return "every users bound needs a range for every projects bound."
        if obj.large_repo_block_size < 1:
            return "the large-repository block size must be at least 1."
    if isinstance(obj, RateCard) and obj.management_percent_low > obj.management_percent_high:
        return "the project management low percent is above the high percent."
    return None


class TableRowInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return not _is_locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_locked(obj) and super().has_delete_permission(request, obj)


class PriceBookItemInline(TableRowInline):
    model = PriceBookItem
    fields = ["sku", "name", "category", "unit", "price", "delivery", "limits"]


class MigrationBandInline(TableRowInline):
    model = MigrationBand
    fields = ["users_max", "projects_max", "low", "high"]


class RateCardActivityInline(TableRowInline):
    model = RateCardActivity
    fields = ["position", "code", "question", "description", "low_days", "high_days"]


class TableVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "currency", "note", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["version", "is_active", "created_at"]
    actions = ["copy_as_new_version", "activate"]

    def has_change_permission(self, request, obj=None):
        return not _is_locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_locked(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:  # a new version: next number, inactive until activated
            obj.version = (type(obj).objects.aggregate(m=Max("version"))["m"] or 0) + 1
            obj.is_active = False
        super().save_model(request, obj, form, change)

    @admin.action(description="Copy as a new inactive version", permissions=["add"])
    def copy_as_new_version(self, request, queryset):
        model = self.model
        rows = _TABLE_KEYS[model][1]
        for original in queryset.order_by("version"):
            with transaction.atomic():
                next_version = (model.objects.aggregate(m=Max("version"))["m"] or 0) + 1
                relation = getattr(original, rows)
                children = list(relation.all())
                copy = model.objects.get(pk=original.pk)
                copy.pk = copy.id = None
                copy.version, copy.is_active = next_version, False
                copy.note = f"Copy of v{original.version}"
                copy.save()
                for child in children:
                    child.pk = child.id = None
                    setattr(child, relation.field.name, copy)
                relation.model.objects.bulk_create(children)
            self.message_user(request, f"Copied v{original.version} as v{next_version} (inactive).", messages.SUCCESS)

    @admin.action(description="Activate (the calculator uses it from now on)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        chosen = queryset.get()
        problem = _problem(chosen)
        if problem:
            self.message_user(request, f"v{chosen.version} cannot be activated: {problem}", messages.ERROR)
            return
        with transaction.atomic():
            self.model.objects.filter(is_active=True).exclude(pk=chosen.pk).update(is_active=False)
            self.model.objects.filter(pk=chosen.pk).update(is_active=True)
        self.message_user(request, f"v{chosen.version} is now active.", messages.SUCCESS)

    def has_activate_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")


@admin.register(PriceBook)
class PriceBookAdmin(TableVersionAdmin):
    inlines = [PriceBookItemInline]


@admin.register(MigrationMatrix)
class MigrationMatrixAdmin(TableVersionAdmin):
    list_display = [*TableVersionAdmin.list_display, "large_repo_block_size", "large_repo_block_price"]
    inlines = [MigrationBandInline]


@admin.register(RateCard)
class RateCardAdmin(TableVersionAdmin):
    list_display = [*TableVersionAdmin.list_display, "day_rate", "management_percent_low", "management_percent_high"]
    inlines = [RateCardActivityInline]


class RomVersionInline(admin.TabularInline):
    model = RomVersion
    fk_name = "rom"
    extra = 0
    fields = ("number", "currency", "low", "high", "flags", "table_versions", "created_by", "created_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Rom)
class RomAdmin(admin.ModelAdmin):
    """ROMs are made and moved through approval by the product, not here: the admin shows them."""

    list_display = ["__str__", "template", "status", "opportunity", "created_by", "created_at"]
    list_filter = ["template", "status"]
    list_select_related = ["opportunity__account", "created_by"]
    readonly_fields = ["opportunity", "ps_opportunity", "template", "status", "current", "approved_version",
                       "created_by", "created_at"]
    inlines = [RomVersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RomVersion)
class RomVersionAdmin(admin.ModelAdmin):
    """A version is one calculation and never changes."""

    list_display = ["__str__", "currency", "low", "high", "created_by", "created_at"]
    list_select_related = ["rom", "created_by"]
    readonly_fields = ["rom", "number", "answers", "lines", "flags", "assumptions", "currency", "low", "high",
                       "table_versions", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
