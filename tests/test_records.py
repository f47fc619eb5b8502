"""Rules that live in the records themselves: the PS amount, versioned policy, immutable ROM versions."""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from psops.approvals import services as approvals
from psops.approvals.models import ApprovalPolicy
from psops.approvals.policy import DEFAULT_RULES
from psops.core.errors import ApplicationError
from psops.crm.models import PSOpportunity
from psops.estimating import services as estimating

pytestmark = pytest.mark.django_db


def test_only_the_ps_opportunity_has_a_ps_amount_column():
    holders = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            if "ps_amount" in columns:
                holders.append(table)
    assert holders == [PSOpportunity._meta.db_table]
    assert [m.__name__ for m in apps.get_models() if any(f.name == "ps_amount" for f in m._meta.fields)] == [
        "PSOpportunity"]


def test_the_database_refuses_a_negative_ps_amount(people, deal):
    _, _, opp = deal
    with pytest.raises(IntegrityError), transaction.atomic():
        PSOpportunity.objects.create(parent=opp, name="bad", owner=people["sal"], ps_amount=-1)


def test_a_request_keeps_the_policy_version_that_judged_it(people, deal):
    _, _, opp = deal
    rom = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 100})
    first = approvals.rom_submit(user=people["sal"], rom=rom)
    # The administrator publishes v2: ROMs now need the Dir. CS and the PS manager both ("all").
    rules = [dict(r) for r in DEFAULT_RULES]
    rules[0] = {**rules[0], "mode": "all"}
    v2 = approvals.policy_publish(user=people["admin"], rules=rules, note="both must approve")
    assert (v2.version, v2.is_active) == (2, True)
    assert ApprovalPolicy.objects.get(version=1).is_active is False
    first.refresh_from_db()
    assert first.policy.version == 1
    # Judged by v1: one approver is enough.
    approvals.rom_decide(user=people["psmanager"], request=first, outcome="approve")
    first.refresh_from_db()
    assert first.state == "approved"
    # A new ROM is judged by v2: it needs both.
    rom2 = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                 answers={"users": 100, "projects": 100})
    second = approvals.rom_submit(user=people["sal"], rom=rom2)
    assert second.policy.version == 2
    approvals.rom_decide(user=people["psmanager"], request=second, outcome="approve")
    second.refresh_from_db()
    assert second.state == "pending"
    approvals.rom_decide(user=people["dircs"], request=second, outcome="approve")
    second.refresh_from_db()
    assert second.state == "approved"


@pytest.mark.parametrize("rules, message", [
    ([], "non-empty"),
    ([{"code": "x", "applies_to": ["rom"], "when": {"always": True}, "approvers": ["nobody"]}], "roles"),
    ([{"code": "x", "applies_to": ["lunch"], "when": {"always": True}, "approvers": ["dir_cs"]}], "applies_to"),
    ([{"code": "x", "applies_to": ["rom"], "when": {"moon": 1}, "approvers": ["dir_cs"]}], "when"),
    ([{"code": "x", "applies_to": ["rom"], "when": {"high_over": "lots"}, "approvers": ["dir_cs"]}], "amount"),
])
def test_an_invalid_policy_is_refused_and_changes_nothing(people, rules, message):
    with pytest.raises(ApplicationError) as err:
        approvals.policy_publish(user=people["admin"], rules=rules)
    assert err.value.code == "invalid-policy" and message in err.value.message
    assert list(ApprovalPolicy.objects.values_list("version", "is_active")) == [(1, True)]


def test_an_approved_rom_version_never_changes(people, deal):
    _, _, opp = deal
    rom = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 100})
    request = approvals.rom_submit(user=people["sal"], rom=rom)
    approvals.rom_decide(user=people["psmanager"], request=request, outcome="approve")
    rom.refresh_from_db()
    approved = rom.approved_version
    before = (approved.low, approved.high, approved.lines)
    v2 = estimating.rom_revise(user=people["sa"], rom=rom, answers={"users": 2500, "projects": 100})
    approved.refresh_from_db()
    rom.refresh_from_db()
    assert (approved.low, approved.high, approved.lines) == before
    assert rom.approved_version == approved and rom.current == v2 and rom.status == "draft"
