"""Timers people wait on, shown where they wait: a quote's validity and its link's life, and the business days left
before silence counts as acceptance."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from psops.core.business_days import Calendar, start_of_day
from psops.links.models import CustomerLink

pytestmark = pytest.mark.django_db


def shown(template: str, **values) -> str:
    return Template("{% load psops %}" + template).render(Context(values))


def test_a_deadline_says_how_far_off_it_is_in_days_or_business_days():
    today = timezone.localdate()
    assert "(in 7 days)" in shown("{% deadline d %}", d=today + dt.timedelta(days=7))
    assert "(1 day ago)" in shown("{% deadline d %}", d=today - dt.timedelta(days=1))
    assert "(today)" in shown("{% deadline d %}", d=today)
    later = today + dt.timedelta(days=10)
    business = Calendar.current().business_days_between(today, later)
    assert f"(in {business} business days)" in shown("{% deadline d business=True %}", d=later)
    # A moment that begins a day is last usable the day before; the date is ISO, the moment on hover.
    html = shown("{% deadline m exclusive=True %}", m=start_of_day(later))
    assert f'datetime="{later - dt.timedelta(days=1):%Y-%m-%d}"' in html and "(in 9 days)" in html
    assert 'title="' in html and "T00:00" in html


def test_the_quote_link_lives_as_long_as_the_quote_and_both_pages_say_until_when(sent, client):
    e, path = sent("quote-sent")
    link = CustomerLink.objects.get(purpose="quote", used_at__isnull=True, revoked_at__isnull=True)
    assert link.expires_at == start_of_day(e.quote.valid_until + dt.timedelta(days=1))
    page = client.get(path).content.decode()
    until = f"{e.quote.valid_until:%Y-%m-%d}"
    assert f"until the end of <time datetime=\"{until}\"" in page  # the link
    assert page.count(f'<time datetime="{until}"') == 2  # and the quote's validity, with the days left
    assert f"(in {(e.quote.valid_until - timezone.localdate()).days} days)" in page
    client.force_login(e.people["sal"])
    staff = client.get(reverse("web:quote", args=[e.quote.pk])).content.decode()
    assert f'<time datetime="{until}"' in staff.split("Valid until", 1)[1]


def test_the_project_page_says_when_the_customer_must_answer(sent, client):
    e, _ = sent("completion-asked")
    client.force_login(e.people["psmanager"])
    page = client.get(reverse("web:project", args=[e.project.pk])).content.decode()
    last_day = timezone.localtime(e.completion.passive_at).date() - dt.timedelta(days=1)
    assert f'answer due by <time datetime="{last_day:%Y-%m-%d}"' in page
    assert "business days)" in page and "accepted without an answer after that" in page
