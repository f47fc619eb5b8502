"""The PS manager's time review: a row per engineer and week, approved with one click, at a fixed cost; bad posts
and the wrong people are refused in the page, and nothing changes."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.activity.models import Notification, TimelineEvent
from psops.delivery.models import Project, TimeEntry

pytestmark = pytest.mark.django_db

TIME_PAGE_QUERIES = 6  # pinned: session, user, roles, unread badge, the page of weeks and their count


@pytest.fixture
def demo():
    call_command("demo")


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def waiting() -> int:
    return TimeEntry.objects.filter(approved_at__isnull=True).count()


def test_the_ps_manager_approves_an_engineers_week(client, demo):
    pse = get_user_model().objects.get(username="pse")
    entry = TimeEntry.objects.filter(engineer=pse, approved_at__isnull=True).first()
    week = monday(entry.date)
    client.login(username="psmanager", password="demo")
    home = client.get("/").content.decode()
    assert "Time to approve" in home and f"week={week:%Y-%m-%d}" in home
    listed = client.get("/time/").content.decode()
    assert "Eli Engineer" in listed and f"{week:%Y-%m-%d}</time> to {week + dt.timedelta(days=6):%Y-%m-%d}" in listed
    detail = client.get(f"/time/?engineer={pse.pk}&week={week:%Y-%m-%d}").content.decode()
    assert entry.project.name in detail and "Approve this week" in detail
    in_week = TimeEntry.objects.filter(engineer=pse, date__gte=week, date__lt=week + dt.timedelta(days=7))
    response = client.post("/time/approve/", {"engineer": pse.pk, "week": f"{week:%Y-%m-%d}"})
    assert response.status_code == 302
    assert not in_week.filter(approved_at__isnull=True).exists()
    assert set(in_week.values_list("approved_by__username", flat=True)) == {"psmanager"}
    assert TimelineEvent.objects.filter(verb="time.approved", subject_id=entry.project_id).exists()
    assert Notification.objects.filter(recipient=pse, kind="time-approved").exists()
    page = client.get("/time/").content.decode()
    assert "Approved" in page  # the message says what was done
    # Approving the same week again says there is nothing left, in the page.
    again = client.post("/time/approve/", {"engineer": pse.pk, "week": f"{week:%Y-%m-%d}"})
    assert again.status_code == 400 and "has no time waiting for approval" in again.content.decode()


@pytest.mark.parametrize("data, says", [
    ({"engineer": "1", "week": "2026-11-24"}, "A week starts on a Monday"),
    ({"engineer": "abc", "week": "2026-11-23"}, "Select a valid choice"),
    ({"engineer": str(2**70), "week": "2026-11-23"}, "Select a valid choice"),
    ({"engineer": "1", "week": "not-a-date"}, "Enter a valid date"),
    ({}, "This field is required"),
])
def test_a_bad_post_is_refused_in_the_page_and_changes_nothing(client, demo, data, says):
    before = waiting()
    client.login(username="psmanager", password="demo")
    response = client.post("/time/approve/", data)
    assert response.status_code == 400
    assert says in response.content.decode() and "Nothing was approved" in response.content.decode()
    assert waiting() == before


def test_only_a_ps_manager_reviews_time_and_never_their_own(client, demo):
    client.login(username="pse", password="demo")
    for response in (client.get("/time/"), client.post("/time/approve/", {"engineer": "1", "week": "2026-11-23"})):
        assert response.status_code == 403 and "Only a PS manager approves time." in response.content.decode()
    # A PS manager who also delivers sees everybody's hours but their own, and may not approve their own.
    both = user_ensure(username="both", roles=[roles.PS_MANAGER, roles.PS_ENGINEER], password="demo")
    project = Project.objects.filter(state="in-delivery").first()
    own = TimeEntry.objects.create(project=project, engineer=both, date=dt.date(2026, 11, 23), hours=3)
    client.login(username="both", password="demo")
    assert "both" not in client.get("/time/").content.decode().split("Weeks waiting", 1)[1]
    response = client.post("/time/approve/", {"engineer": both.pk, "week": "2026-11-23"})
    assert response.status_code == 403 and "Nobody approves their own time" in response.content.decode()
    own.refresh_from_db()
    assert own.approved_at is None


def test_the_time_page_costs_the_same_with_many_weeks(client, demo):
    client.login(username="psmanager", password="demo")
    client.get("/time/")

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/time/").status_code == 200
        return len(ctx.captured_queries)

    before = cost()
    project = Project.objects.filter(state="in-delivery").first()
    engineers = [user_ensure(username=f"eng{i}", roles=[roles.PS_ENGINEER], password="x") for i in range(8)]
    TimeEntry.objects.bulk_create(TimeEntry(project=project, engineer=e, date=dt.date(2026, 1, 5) +
                                            dt.timedelta(weeks=w), hours=4) for e in engineers for w in range(10))
    assert cost() == before == TIME_PAGE_QUERIES
    page = client.get("/time/").content.decode()
    assert "Page 1 of 4" in page  # 80 and more weeks, 25 a page
