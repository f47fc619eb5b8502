"""Version 1 of the calculator's tables, from the CSV files shipped in the package.

`load_default_tables` is what migration 0002 runs (with the migration's historical app registry), and what a fresh
installation or a test may call again: it only creates a table whose kind has no version at all, so it is safe to run
any number of times and never overwrites an administrator's data.
"""

from __future__ import annotations

from typing import Any

from .calculator import tables_from_csv

DEFAULT_NOTE = "Default from the package CSV"


def load_default_tables(apps: Any = None) -> list[str]:
    """Create version 1 (active) of the price book, the migration matrix and the rate card, each only when no
    version of it exists. `apps` is a migration's app registry (models come from `apps.get_model`); None means the
    current models. Returns the names of the tables it created."""
    if apps is None:
        from django.apps import apps as current_apps

        apps = current_apps

    def model(name: str):
        return apps.get_model("estimating", name)

    PriceBook, PriceBookItem = model("PriceBook"), model("PriceBookItem")  # noqa: N806
    MigrationMatrix, MigrationBand = model("MigrationMatrix"), model("MigrationBand")  # noqa: N806
    RateCard, RateCardActivity = model("RateCard"), model("RateCardActivity")  # noqa: N806

    tables = tables_from_csv()
    created = []

    if not PriceBook.objects.exists() and tables.price_book is not None:
        book = PriceBook.objects.create(version=1, is_active=True, note=DEFAULT_NOTE,
                                        currency=tables.price_book.currency)
        PriceBookItem.objects.bulk_create(
            PriceBookItem(price_book=book, sku=e.sku, name=e.name, category=e.category, unit=e.unit, price=e.price,
                          delivery=e.delivery, limits=e.limits)
            for e in tables.price_book.items.values())
        created.append("price_book")

    if not MigrationMatrix.objects.exists() and tables.migration_matrix is not None:
        matrix_source = tables.migration_matrix
        matrix = MigrationMatrix.objects.create(
            version=1, is_active=True, note=DEFAULT_NOTE, currency=matrix_source.currency,
            large_repo_block_size=matrix_source.large_repo_block_size,
            large_repo_block_price=matrix_source.large_repo_block_price)
        MigrationBand.objects.bulk_create(
            MigrationBand(matrix=matrix, users_max=b.users_max, projects_max=b.projects_max, low=b.low, high=b.high)
            for b in matrix_source.bands)
        created.append("migration_matrix")

    if not RateCard.objects.exists() and tables.rate_card is not None:
        source = tables.rate_card
        card = RateCard.objects.create(
            version=1, is_active=True, note=DEFAULT_NOTE, currency=source.currency, day_rate=source.day_rate,
            management_percent_low=source.management_percent_low,
            management_percent_high=source.management_percent_high)
        RateCardActivity.objects.bulk_create(
            RateCardActivity(rate_card=card, code=a.code, question=a.question, description=a.description,
                             low_days=a.low_days, high_days=a.high_days, position=(index + 1) * 10)
            for index, a in enumerate(source.activities))
        created.append("rate_card")

    return created
