"""The default tables in the database (migration 0002) and reading the active versions."""

import dataclasses
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from psops.approvals.models import ApprovalPolicy
from psops.approvals.services import policy_publish
from psops.core.errors import ApplicationError
from psops.estimating.calculator import (
    FLAG_TECHNICAL_REVIEW,
    IMPLEMENTATION,
    PRICE_BOOK,
    SM_TO_SAAS,
    calculate,
    tables_from_csv,
    tables_from_db,
)
from psops.estimating.defaults import load_default_tables
from psops.estimating.models import (
    MigrationBand,
    MigrationMatrix,
    PriceBook,
    PriceBookItem,
    RateCard,
    RateCardActivity,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_the_migration_loaded_version_one_of_each_table():
    book, matrix, card = PriceBook.objects.get(), MigrationMatrix.objects.get(), RateCard.objects.get()
    assert (book.version, book.is_active, book.currency) == (1, True, "USD")
    assert (matrix.version, matrix.is_active) == (1, True)
    assert (matrix.large_repo_block_size, matrix.large_repo_block_price) == (10, Decimal(12000))
    assert not hasattr(matrix, "technical_review_over")  # the approval policy holds the review threshold
    assert (card.version, card.is_active, card.day_rate) == (1, True, Decimal(2000))
    assert (card.management_percent_low, card.management_percent_high) == (Decimal(10), Decimal(15))
    assert PriceBookItem.objects.count() == 23
    assert MigrationBand.objects.count() == 40
    assert list(RateCardActivity.objects.values_list("question", flat=True)) == [
        "instances", "ha_geo", "integrations", "ci_templates", "runner_fleets", "workshops"]


def test_database_tables_equal_the_package_csv():
    from_db, from_csv = tables_from_db(), tables_from_csv()
    assert from_db.price_book.items == from_csv.price_book.items
    assert from_db.migration_matrix.bands == from_csv.migration_matrix.bands
    assert from_db.rate_card.activities == from_csv.rate_card.activities
    assert from_db.rate_card.day_rate == from_csv.rate_card.day_rate
    assert (from_db.price_book.version, from_db.migration_matrix.version, from_db.rate_card.version) == (1, 1, 1)


def test_reading_the_tables_takes_one_query_per_table_and_its_rows(django_assert_num_queries):
    # Three tables and their rows, and the active approval policy for the review threshold.
    with django_assert_num_queries(7):
        tables_from_db()


def test_loading_again_changes_nothing():
    assert load_default_tables() == []
    assert PriceBook.objects.count() == MigrationMatrix.objects.count() == RateCard.objects.count() == 1
    assert PriceBookItem.objects.count() == 23


def test_loading_fills_only_the_missing_tables():
    RateCard.objects.all().delete()
    assert load_default_tables() == ["rate_card"]
    assert RateCard.objects.get().activities.count() == 6
    PriceBook.objects.all().delete()
    MigrationMatrix.objects.all().delete()
    assert load_default_tables() == ["price_book", "migration_matrix"]


def test_estimates_record_the_table_versions():
    tables = tables_from_db()
    assert calculate(PRICE_BOOK, {"GL-CICD-R": 1}, tables).table_versions == {"price_book": 1}
    assert calculate(SM_TO_SAAS, {"users": 1, "projects": 1}, tables).table_versions == {"migration_matrix": 1}
    assert calculate(IMPLEMENTATION, {}, tables).table_versions == {"rate_card": 1}


def test_the_active_version_is_the_one_used():
    book = PriceBook.objects.get()
    book.is_active = False
    book.save()
    new = PriceBook.objects.create(version=2, is_active=True)
    PriceBookItem.objects.create(price_book=new, sku="GL-CICD-R", name="CI/CD", category="education", unit="session",
                                 price=Decimal("5500"), delivery="remote")
    estimate = calculate(PRICE_BOOK, {"GL-CICD-R": 2}, tables_from_db())
    assert estimate.low == Decimal(11000)
    assert estimate.table_versions == {"price_book": 2}
    with pytest.raises(ApplicationError) as raised:  # version 2 has no seat SKU
        calculate(PRICE_BOOK, {"GL-CICD-R": 1, "attendees": 13}, tables_from_db())
    assert raised.value.code == "unknown-sku"


def test_no_active_version_is_a_clear_refusal():
    RateCard.objects.update(is_active=False)
    tables = tables_from_db()
    assert tables.rate_card is None
    with pytest.raises(ApplicationError) as raised:
        calculate(IMPLEMENTATION, {}, tables)
    assert raised.value.code == "no-active-table"


def test_the_review_threshold_comes_from_the_active_approval_policy():
    """One place for the $50k figure: the policy decides who reviews, and the calculator's flag quotes it."""
    admin = User.objects.create_superuser("threshold-admin", password="x")
    rules = [dict(r) for r in ApprovalPolicy.objects.get(is_active=True).rules]
    for rule in rules:
        if rule["code"] == "technical-review":
            rule["when"] = {"high_over": "100000"}
    policy_publish(user=admin, rules=rules, note="review over 100k")
    tables = tables_from_db()
    assert tables.technical_review_over == Decimal(100000)
    estimate = calculate(SM_TO_SAAS, {"users": 500, "projects": 2000}, tables)  # 50,000-60,000
    assert FLAG_TECHNICAL_REVIEW not in estimate.flag_codes
    lowered = dataclasses.replace(tables, technical_review_over=Decimal(50000))
    assert FLAG_TECHNICAL_REVIEW in calculate(SM_TO_SAAS, {"users": 500, "projects": 2000}, lowered).flag_codes
    # A policy without the technical review flags nothing.
    policy_publish(user=admin, rules=[r for r in rules if r["code"] != "technical-review"], note="no review")
    assert tables_from_db().technical_review_over is None
    assert FLAG_TECHNICAL_REVIEW not in calculate(SM_TO_SAAS, {"users": 800, "projects": 2500},
                                                  tables_from_db()).flag_codes
