"""Who may decide an approval request: the SQL filter the work queues count and page with
(`approvals.selectors.decidable_by`, behind `services.may_decide`) and the decision service's own check
(`services.request_decide_check`) give the same answer for every kind of request and person."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalPolicy, ApprovalRequest, ApprovalRequirement, Decision, roles_waited_for
from psops.approvals.selectors import approval_list, decidable_by
from psops.core.errors import ApplicationError
from psops.estimating import services as estimating
from psops.estimating.models import RomVersion
from psops.workflow.invariants import violations

pytestmark = pytest.mark.django_db

ANY_ROM = ("rom-approval", ["ps_manager", "dir_cs"], "any")
REVIEW = ("technical-review", ["technical_architect"], "any")
INVESTMENT = ("investment", ["vp_sales", "vp_global_services"], "all")
DISCOUNT = ("discount", ["dir_cs"], "any")
TERMS = ("billing-terms", ["director_ps"], "any")

# name -> requirements as (rule, roles that approved already, satisfied)
REQUIREMENTS = {
    "rom, open": [(ANY_ROM, [], False)],
    "rom met, review open": [(ANY_ROM, ["ps_manager"], True), (REVIEW, [], False)],
    "investment, one VP approved": [(INVESTMENT, ["vp_sales"], False)],
    "investment, open": [(INVESTMENT, [], False)],
    "discount met, terms open": [(DISCOUNT, ["dir_cs"], True), (TERMS, [], False)],
    "everything met": [(ANY_ROM, ["dir_cs"], True)],
    # Rows no service writes (an approved role on an unmet "any" rule): the two rules must still agree.
    "rom, approved role but unmet": [(ANY_ROM, ["ps_manager"], False)],
    "no requirement": [],
}
DECIDED_BY = [None, "psmanager", "vpsales", "ta", "pmcs", "vps"]
STATES = [ApprovalRequest.State.PENDING, ApprovalRequest.State.APPROVED, ApprovalRequest.State.WITHDRAWN]
# (submitted by, author): a sales rep's request on an architect's work, and requests of approvers themselves
OWNERS = [("sal", "sa"), ("psmanager", "sa"), ("sal", "dircs"), ("vpsales", "vpsales"), ("pmcs", "sa")]


@pytest.fixture
def everyone(people):
    people = dict(people)
    people["pmcs"] = user_ensure(username="pmcs", roles=[roles.PS_MANAGER, roles.DIR_CS])
    people["vps"] = user_ensure(username="vps", roles=[roles.VP_SALES, roles.VP_GLOBAL_SERVICES])
    people["norole"] = user_ensure(username="norole", roles=[])
    people["root"] = get_user_model().objects.create_superuser(username="root", password="x", email="")
    return people


def service_allows(user, request) -> bool:
    try:
        approvals.request_decide_check(user=user, request=request)
    except ApplicationError:
        return False
    return True


def assert_agree(people, requests):
    """For every person: the requests the SQL filter keeps are exactly those the decision service lets them decide."""
    pks = [r.pk for r in requests]
    fresh = list(ApprovalRequest.objects.filter(pk__in=pks).prefetch_related("requirements", "decisions"))
    for name, user in people.items():
        user = get_user_model().objects.get(pk=user.pk)  # a fresh copy: roles read as a request would read them
        in_sql = set(ApprovalRequest.objects.filter(decidable_by(user), pk__in=pks).values_list("pk", flat=True))
        by_service = {r.pk for r in fresh if service_allows(user, r)}
        assert in_sql == by_service, (name, sorted(in_sql ^ by_service))


def test_the_sql_rule_and_the_decision_service_agree_on_every_kind_of_request(everyone):
    policy = ApprovalPolicy.objects.get(is_active=True)
    ct = ContentType.objects.get_for_model(RomVersion)
    cases = list(itertools.product(REQUIREMENTS.items(), DECIDED_BY, STATES, OWNERS))
    requests = ApprovalRequest.objects.bulk_create(
        ApprovalRequest(kind="rom", subject_type=ct, subject_id=n + 1, policy=policy, state=state,
                        submitted_by=everyone[submitter], author=everyone[author], title=f"case {n}")
        for n, (_, _, state, (submitter, author)) in enumerate(cases))
    requirements = ApprovalRequirement.objects.bulk_create(
        ApprovalRequirement(request=request, code=code, label=code, approvers=approvers, mode=mode,
                            approved_roles=approved, satisfied=satisfied)
        for request, ((_, needs), _, _, _) in zip(requests, cases, strict=True)
        for (code, approvers, mode), approved, satisfied in needs)
    # The roles each request waits for, kept as the services keep them (the invariant checks they were).
    for request in requests:
        if request.state == ApprovalRequest.State.PENDING:
            request.waiting_roles = roles_waited_for(r for r in requirements if r.request_id == request.pk)
    ApprovalRequest.objects.bulk_update(requests, ["waiting_roles"])
    assert violations(["waiting-kept"]) == []
    Decision.objects.bulk_create(
        Decision(request=request, approver=everyone[decided_by], outcome="approve")
        for request, (_, decided_by, _, _) in zip(requests, cases, strict=True) if decided_by)
    assert_agree(everyone, requests)
    # Each kind of answer occurs, so the agreement is not that of two rules that always say no.
    assert ApprovalRequest.objects.filter(decidable_by(everyone["ta"])).exists()
    assert ApprovalRequest.objects.filter(decidable_by(everyone["vpgs"])).exists()
    assert not ApprovalRequest.objects.filter(decidable_by(everyone["norole"])).exists()
    assert not ApprovalRequest.objects.filter(decidable_by(everyone["sal"])).exists()


def test_may_decide_follows_a_request_through_its_decisions(everyone, deal):
    """Through the real services: a ROM over $50,000 needs the PS manager or Dir. CS and a technical architect."""
    _, _, opp = deal
    rom = estimating.rom_create(user=everyone["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 2500, "projects": 9000, "large_repos": 0})
    request = approvals.rom_submit(user=everyone["sal"], rom=rom)
    assert {r.code for r in request.requirements.all()} == {"rom-approval", "technical-review"}

    def may(name):
        fresh = ApprovalRequest.objects.prefetch_related("requirements", "decisions").get(pk=request.pk)
        answer = approvals.may_decide(everyone[name], fresh)
        assert answer == service_allows(everyone[name], fresh), name
        return answer

    assert {name for name in everyone if may(name)} == {"psmanager", "dircs", "pmcs", "ta", "root"}
    approvals.rom_decide(user=everyone["psmanager"], request=request, outcome="approve")
    assert {name for name in everyone if may(name)} == {"ta", "root"}  # the ROM rule is met; the review waits
    approvals.rom_decide(user=everyone["ta"], request=request, outcome="approve")
    assert {name for name in everyone if may(name)} == set()


def test_the_approvals_list_filters_to_what_waits_for_me(everyone, deal):
    _, _, opp = deal
    rom = estimating.rom_create(user=everyone["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 500, "large_repos": 0})
    request = approvals.rom_submit(user=everyone["sal"], rom=rom)
    assert list(approval_list(user=everyone["dircs"], filters={"waiting": True})) == [request]
    assert list(approval_list(user=everyone["ta"], filters={"waiting": True})) == []  # under $50,000: no review
    assert list(approval_list(user=everyone["ta"], filters={})) == [request]  # but the TA sees it


def test_roles_kept_out_of_step_with_the_requirements_are_reported(everyone, deal):
    """The kept roles are the queues' source: the invariant (and `psops invariants waiting-kept`) catches any row a
    hand edit or an import put out of step, pending or decided."""
    _, _, opp = deal
    rom = estimating.rom_create(user=everyone["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 500, "large_repos": 0})
    request = approvals.rom_submit(user=everyone["sal"], rom=rom)
    assert request.waiting_roles == ["dir_cs", "ps_manager"] and violations(["waiting-kept"]) == []
    ApprovalRequest.objects.filter(pk=request.pk).update(waiting_roles=["vp_sales"])
    assert [v.subject for v in violations(["waiting-kept"])] == [f"approval request {request.pk}"]
    ApprovalRequest.objects.filter(pk=request.pk).update(waiting_roles=["dir_cs", "ps_manager"])
    approvals.rom_decide(user=everyone["psmanager"], request=request, outcome="approve")
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.APPROVED and request.waiting_roles == []
    ApprovalRequest.objects.filter(pk=request.pk).update(waiting_roles=["dir_cs"])
    assert "is approved but still waits for dir_cs" in violations(["waiting-kept"])[0].message
