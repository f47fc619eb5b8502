"""Admin: table versions with their rows, locked once active or used; ROMs and their versions read-only."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from psops.crm.models import Account, Opportunity
from psops.estimating.models import MigrationMatrix, PriceBook, RateCard, Rom, RomVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def rom(admin_user):
    account = Account.objects.create(name="Acme", owner=admin_user)
    opportunity = Opportunity.objects.create(account=account, name="Acme migration", owner=admin_user,
                                             close_date=datetime.date(2026, 12, 31), segment="SMB")
    rom = Rom.objects.create(opportunity=opportunity, template="price-book", created_by=admin_user)
    version = RomVersion.objects.create(rom=rom, number=1, answers={"GL-CICD-R": 1}, currency="USD",
                                        low=Decimal(5000), high=Decimal(5000), table_versions={"price_book": 1},
                                        created_by=admin_user)
    Rom.objects.filter(pk=rom.pk).update(current=version)
    return rom


@pytest.mark.parametrize("model", [PriceBook, MigrationMatrix, RateCard, Rom, RomVersion])
def test_changelists_render(admin_client, model):
    url = reverse(f"admin:estimating_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize(("model", "rows"), [(PriceBook, "GL-CICD-R"), (MigrationMatrix, "210000"),
                                             (RateCard, "IMPL-HA-GEO")])
def test_an_active_version_shows_its_rows_read_only(admin_client, model, rows):
    obj = model.objects.get()
    response = admin_client.get(reverse(f"admin:estimating_{model._meta.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert rows in content
    assert 'name="_save"' not in content  # view only


def test_copy_activate_and_edit_a_new_version(admin_client, admin_user, rf):
    changelist = reverse("admin:estimating_pricebook_changelist")
    v1 = PriceBook.objects.get()
    response = admin_client.post(changelist, {"action": "copy_as_new_version", "_selected_action": [v1.pk]})
    assert response.status_code == 302
    v2 = PriceBook.objects.get(version=2)
    assert not v2.is_active and v2.items.count() == v1.items.count() == 23
    assert v1.items.count() == 23  # the original keeps its rows

    # An inactive, unused copy can be edited.
    model_admin = site._registry[PriceBook]
    request = rf.get("/")
    request.user = admin_user
    assert model_admin.has_change_permission(request, v2)
    assert not model_admin.has_change_permission(request, v1)

    admin_client.post(changelist, {"action": "activate", "_selected_action": [v2.pk]})
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v2.is_active and not v1.is_active
    assert not model_admin.has_change_permission(request, v2)


def test_a_version_used_by_a_rom_stays_locked_when_inactive(admin_user, rf, rom):
    v1 = PriceBook.objects.get()
    PriceBook.objects.update(is_active=False)
    v1.refresh_from_db()
    request = rf.get("/")
    request.user = admin_user
    assert not site._registry[PriceBook].has_change_permission(request, v1)
    assert not site._registry[PriceBook].has_delete_permission(request, v1)


def test_an_empty_version_cannot_be_activated(admin_client):
    empty = RateCard.objects.create(version=2, day_rate=Decimal(2000))
    admin_client.post(reverse("admin:estimating_ratecard_changelist"),
                      {"action": "activate", "_selected_action": [empty.pk]})
    empty.refresh_from_db()
    assert not empty.is_active
    assert RateCard.objects.get(version=1).is_active


def test_rom_and_its_versions_are_read_only(admin_client, admin_user, rf, rom):
    request = rf.get("/")
    request.user = admin_user
    version_admin = site._registry[RomVersion]
    version = rom.versions.get()
    assert not version_admin.has_change_permission(request, version)
    assert not version_admin.has_delete_permission(request, version)
    assert not version_admin.has_add_permission(request)
    response = admin_client.get(reverse("admin:estimating_rom_change", args=[rom.pk]))
    assert response.status_code == 200
    assert "5000.00" in response.content.decode() or "5,000.00" in response.content.decode()
    assert 'name="_save"' not in response.content.decode()
    response = admin_client.get(reverse("admin:estimating_romversion_change", args=[version.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.post(reverse("admin:estimating_romversion_delete", args=[version.pk])).status_code == 403
