from django.contrib import admin

from psops.core.admin import ReadOnlyModelAdmin as ReadOnlyAdmin

from .models import Message, Notification, Thread, TimelineEvent


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "who", "verb", "message", "subject_type", "subject_id"]
    list_filter = ["verb", "subject_type"]
    list_select_related = ["actor", "subject_type"]


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdmin):
    list_display = ["title", "created_at"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "author", "kind", "thread"]
    list_select_related = ["author", "thread"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "recipient", "kind", "text", "read_at"]
    list_select_related = ["recipient"]
