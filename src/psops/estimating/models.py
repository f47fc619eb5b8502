"""The price book, the calculator's tables (both versioned data an administrator edits) and ROM estimates."""

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from psops.core.errors import ApplicationError
from psops.core.money import MoneyField, currency_field
from psops.core.quantities import COUNT, DAYS, MONEY, PERCENT, bounded


class TableVersion(models.Model):
    """Common shape of a versioned table: exactly one active version per kind is used by the calculator."""

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} v{self.version}{' (active)' if self.is_active else ''}"


class PriceBook(TableVersion):
    currency = currency_field()

    class Meta(TableVersion.Meta):
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_price_book")]


class PriceBookItem(models.Model):
    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=40)
    unit = models.CharField(max_length=20)
    price = MoneyField()
    delivery = models.CharField(max_length=20, blank=True)
    limits = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["price_book", "sku"], name="sku_unique_per_price_book"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="price_not_negative"),
            bounded("price", MONEY),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class MigrationMatrix(TableVersion):
    """Self-managed to SaaS migration ROM matrix and its adders."""

    currency = currency_field()
    large_repo_block_size = models.PositiveIntegerField(default=10)
    large_repo_block_price = MoneyField(default=12000)

    class Meta(TableVersion.Meta):
        verbose_name_plural = "migration matrices"
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_migration_matrix"),
                       bounded("large_repo_block_size", COUNT), bounded("large_repo_block_price", MONEY)]


class MigrationBand(models.Model):
    matrix = models.ForeignKey(MigrationMatrix, on_delete=models.CASCADE, related_name="bands")
    users_max = models.PositiveIntegerField()
    projects_max = models.PositiveIntegerField()
    low = MoneyField()
    high = MoneyField()

    class Meta:
        ordering = ["users_max", "projects_max"]
        constraints = [
            models.UniqueConstraint(fields=["matrix", "users_max", "projects_max"], name="one_band_per_cell"),
            models.CheckConstraint(condition=models.Q(low__lte=models.F("high")), name="band_low_not_above_high"),
            bounded("users_max", COUNT), bounded("projects_max", COUNT), bounded("low", MONEY), bounded("high", MONEY),
        ]


class RateCard(TableVersion):
    """The effort model for implementation and consulting: days per activity times a day rate."""

    currency = currency_field()
    day_rate = MoneyField()
    # Project management and coordination, as a share of the delivery days (percent).
    management_percent_low = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    management_percent_high = models.DecimalField(max_digits=5, decimal_places=2, default=15)

    class Meta(TableVersion.Meta):
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_rate_card"),
                       bounded("day_rate", MONEY), bounded("management_percent_low", PERCENT),
                       bounded("management_percent_high", PERCENT)]


class RateCardActivity(models.Model):
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="activities")
    code = models.CharField(max_length=40)
    # The questionnaire answer that counts this activity (a whole number: how many, or 0/1 for yes/no).
    question = models.CharField(max_length=40)
    description = models.CharField(max_length=200)
    low_days = models.DecimalField(max_digits=6, decimal_places=2)
    high_days = models.DecimalField(max_digits=6, decimal_places=2)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name_plural = "rate card activities"
        constraints = [
            models.UniqueConstraint(fields=["rate_card", "code"], name="activity_unique_per_rate_card"),
            models.CheckConstraint(condition=models.Q(low_days__lte=models.F("high_days")),
                                   name="activity_low_not_above_high"),
            bounded("low_days", DAYS), bounded("high_days", DAYS),
        ]


class Rom(ConcurrentTransitionMixin, models.Model):
    """A rough-order-of-magnitude estimate for an opportunity (step 2). Its content lives in immutable versions."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for approval"
        NEEDS_DISCOVERY = "needs-discovery", "Needs discovery"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    opportunity = models.ForeignKey("crm.Opportunity", on_delete=models.PROTECT, related_name="roms")
    ps_opportunity = models.ForeignKey("crm.PSOpportunity", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="roms")
    template = models.CharField(max_length=40)
    status = FSMField(default=Status.DRAFT, choices=Status.choices, protected=True)
    current = models.ForeignKey("RomVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_version = models.ForeignKey("RomVersion", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "ROM estimate"
        constraints = [
            # One PS opportunity per ROM, and one ROM behind each PS opportunity.
            models.UniqueConstraint(fields=["ps_opportunity"], name="one_rom_per_ps_opportunity"),
        ]

    def __str__(self) -> str:
        return f"ROM-{self.pk} ({self.template})"

    @transition(field=status, source=[Status.DRAFT], target=Status.SUBMITTED)
    def submit(self):
        pass

    @transition(field=status, source=Status.SUBMITTED, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.SUBMITTED, target=Status.NEEDS_DISCOVERY)
    def ask_discovery(self):
        pass

    @transition(field=status, source=Status.SUBMITTED, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=[Status.DRAFT, Status.NEEDS_DISCOVERY, Status.REJECTED, Status.APPROVED],
                target=Status.DRAFT)
    def revise(self):
        pass


class RomVersion(models.Model):
    """One calculation. Never changed: a recalculation is a new version."""

    rom = models.ForeignKey(Rom, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    answers = models.JSONField(default=dict)
    lines = models.JSONField(default=list)
    flags = models.JSONField(default=list)
    assumptions = models.TextField(blank=True)
    currency = currency_field()
    low = MoneyField(null=True, blank=True)
    high = MoneyField(null=True, blank=True)
    # Which tables produced it, e.g. {"price_book": 1}.
    table_versions = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rom", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rom", "number"], name="rom_version_number_unique"),
            models.CheckConstraint(condition=models.Q(low__isnull=True) | models.Q(low__lte=models.F("high")),
                                   name="rom_low_not_above_high"),
            bounded("low", MONEY, null=True), bounded("high", MONEY, null=True),
        ]

    def __str__(self) -> str:
        return f"ROM-{self.rom_id} v{self.number}"

    def save(self, *args, **kwargs):
        """A version is never changed once written (a database trigger holds the same line below the ORM)."""
        if self.pk is not None and not self._state.adding:
            raise ApplicationError(code="rom-version-fixed",
                                   message=f"{self} is fixed; a recalculation is a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ApplicationError(code="rom-version-fixed", message=f"{self} is kept; ROM versions are never deleted.")

    @property
    def shown_on(self) -> Rom:
        """The record whose page shows this version (a version has no page of its own)."""
        return self.rom

    @property
    def flag_codes(self) -> list[str]:
        return [f["code"] for f in self.flags]
