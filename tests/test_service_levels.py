"""Approvals have a 3-business-day service level; when it is breached, the people concerned are told once."""

import datetime as dt

import pytest
from django.utils import timezone

from psops.activity.models import Notification, TimelineEvent
from psops.approvals import services as approvals
from psops.approvals.tasks import service_level_deadline
from psops.core.models import Timer
from psops.estimating import services as estimating

pytestmark = pytest.mark.django_db


def test_deadline_skips_weekends_and_holidays():
    # Friday 2026-11-20: Mon 23, Tue 24, Wed 25 are the three business days; late from Thursday 26 (Thanksgiving
    # is a holiday, but lateness starts at midnight after the 3rd business day).
    sent = timezone.make_aware(dt.datetime(2026, 11, 20, 15, 0))
    assert service_level_deadline(sent) == timezone.make_aware(dt.datetime(2026, 11, 26))


def test_a_breach_is_told_once_and_a_decided_request_never(people, deal, django_capture_on_commit_callbacks):
    _, _, opp = deal
    rom = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 100})
    with django_capture_on_commit_callbacks(execute=True):
        request = approvals.rom_submit(user=people["sal"], rom=rom)
    (timer,) = Timer.objects.filter(kind=Timer.Kind.APPROVAL_SERVICE_LEVEL, subject_id=request.pk)
    assert (timer.due_at, timer.done_at) == (service_level_deadline(request.submitted_at), None)
    early = request.submitted_at + dt.timedelta(hours=1)
    assert approvals.approval_service_level_check(request_id=request.pk, now=early) is False
    late = service_level_deadline(request.submitted_at) + dt.timedelta(minutes=1)
    assert approvals.approval_service_level_check(request_id=request.pk, now=late) is True
    told = set(Notification.objects.filter(kind="service-level").values_list("recipient__username", flat=True))
    assert {"psmanager", "dircs", "sal"} <= told
    assert approvals.approval_service_level_check(request_id=request.pk, now=late) is False  # once
    assert TimelineEvent.objects.filter(verb="approval.service_level_breached").count() == 1
    # A decided request is never late.
    rom2 = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                 answers={"users": 100, "projects": 100})
    second = approvals.rom_submit(user=people["sal"], rom=rom2)
    approvals.rom_decide(user=people["dircs"], request=second, outcome="approve")
    assert approvals.approval_service_level_check(request_id=second.pk, now=late + dt.timedelta(days=30)) is False
