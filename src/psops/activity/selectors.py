"""Reads of timelines, discussion threads and notifications.

Timelines and threads grow without end (a busy engagement has thousands of events), so they are read newest first:
a page of them is the latest, and a record page reads one page (web/views/records.py), never the whole history.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from .models import Message, Notification, TimelineEvent


def timeline_for(subject: models.Model) -> QuerySet[TimelineEvent]:
    """The record's events, newest first (the index on subject and time serves this order)."""
    ct = ContentType.objects.get_for_model(subject)
    return (TimelineEvent.objects.filter(subject_type=ct, subject_id=subject.pk).select_related("actor")
            .order_by("-created_at", "-id"))


def messages_in(thread) -> QuerySet[Message]:
    """The thread's messages, newest first, with their authors and the message each one answers."""
    return thread.messages.select_related("author", "parent__author").order_by("-created_at", "-id")


UNREAD_SHOWN = 99  # the badge counts this far and then says "99+": every page pays for at most that many


def unread_notifications(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user, read_at__isnull=True)


def unread_badge(user) -> str:
    """The unread count for the layout's badge ("" when none): one query that reads at most UNREAD_SHOWN + 1 rows."""
    count = unread_notifications(user).order_by()[:UNREAD_SHOWN + 1].count()
    return "" if not count else (f"{UNREAD_SHOWN}+" if count > UNREAD_SHOWN else str(count))
