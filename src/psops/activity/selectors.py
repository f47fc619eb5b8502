from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from .models import Message, Notification, TimelineEvent


def timeline_for(subject: models.Model) -> QuerySet[TimelineEvent]:
    ct = ContentType.objects.get_for_model(subject)
    return TimelineEvent.objects.filter(subject_type=ct, subject_id=subject.pk).select_related("actor")


def messages_in(thread) -> QuerySet[Message]:
    return thread.messages.select_related("author", "parent__author").prefetch_related("mentions")


def unread_notifications(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user, read_at__isnull=True)
