"""Writing the timeline, the discussion thread and notifications. Called from inside other services' transactions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail, send_mass_mail
from django.db import models, transaction
from django.utils import timezone

from psops.core.bulk import insert_each
from psops.core.errors import ApplicationError

from . import steps
from .models import Message, Notification, Thread, TimelineEvent

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")
# The same words posted again by the same person, in the same thread, reply and record, within this window are one
# message sent twice (a double click, a resubmitted form, two tabs): the first is kept, nothing new stored or notified.
MESSAGE_DOUBLE_WINDOW = dt.timedelta(minutes=2)


def thread_for(root: models.Model, *, title: str | None = None) -> Thread:
    """The engagement's one thread, created on first use."""
    ct = ContentType.objects.get_for_model(root)
    thread = Thread.objects.filter(root_type=ct, root_id=root.pk).first()
    if thread is None:  # the title (which may read related records) only when the thread is new
        thread, _ = Thread.objects.get_or_create(root_type=ct, root_id=root.pk,
                                                 defaults={"title": title or str(root)})
    return thread


def threads_of(roots: Iterable[models.Model]) -> dict[int, int]:
    """`thread_for` for many roots of one kind: root id -> thread id, in one query (plus one per root that has no
    thread yet, which a bulk run over engagements with a history seldom meets)."""
    by_id = {root.pk: root for root in roots}
    if not by_id:
        return {}
    ct = ContentType.objects.get_for_model(next(iter(by_id.values())))
    found: dict[int, int] = dict(Thread.objects.filter(root_type=ct, root_id__in=list(by_id))
                                 .values_list("root_id", "pk"))
    for pk, root in by_id.items():
        if pk not in found:
            found[pk] = thread_for(root).pk
    return found


def event_record(*, actor: Any, subject: models.Model, verb: str, message: str, thread: Thread | None = None,
                 actor_label: str = "", data: dict | None = None) -> TimelineEvent:
    """Append a timeline event. Call it inside the transaction of the change it records."""
    user = actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None
    event = TimelineEvent.objects.create(
        actor=user,
        actor_label=actor_label or ("" if user else "system"),
        verb=verb,
        message=message[:500],
        subject_type=ContentType.objects.get_for_model(subject),
        subject_id=subject.pk,
        thread=thread,
        data=data or {},
    )
    steps.clock(verb=verb, subject_type=event.subject_type, subject_id=subject.pk, thread=thread,
                at=event.created_at)
    return event


def events_record(*, actor: Any, verb: str, subject_model: type[models.Model],
                  rows: Iterable[tuple[int, int | None, str] | tuple[int, int | None, str, dict | None]]) -> int:
    """`event_record` for many records of one kind at once (a bulk run): `rows` are (subject id, thread id, message)
    or (subject id, thread id, message, data).
    One INSERT per 500 events; a verb that starts or ends a step's clock is clocked row by row, as `event_record`
    does. Returns how many were written."""
    user = actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None
    ct = ContentType.objects.get_for_model(subject_model)
    label = getattr(actor, "label", "") or ("" if user else "system")
    if verb not in steps.STARTED_BY and verb not in steps.ENDED_BY:  # nothing to clock: no instances needed back
        return insert_each(TimelineEvent, ("actor", "actor_label", "verb", "message", "subject_type", "subject_id",
                                           "thread", "data"),
                           [(user.pk if user else None, label, verb, message[:500], ct.pk, subject_id, thread_id,
                             (extra[0] if extra else None) or {}) for subject_id, thread_id, message, *extra in rows])
    events = TimelineEvent.objects.bulk_create(
        (TimelineEvent(actor=user, actor_label=label, verb=verb, message=message[:500], subject_type=ct,
                       subject_id=subject_id, thread_id=thread_id, data=(extra[0] if extra else None) or {})
         for subject_id, thread_id, message, *extra in rows), batch_size=500)
    for event in events:
        steps.clock(verb=verb, subject_type=ct, subject_id=event.subject_id, thread=event.thread,
                    at=event.created_at)
    return len(events)


def notify_each(*, kind: str, notes: Iterable[tuple[int, str, models.Model]]) -> None:
    """`notify` for many (recipient id, text, subject) at once: one INSERT, and one e-mail per note after commit."""
    notes = [(recipient_id, text[:500], subject) for recipient_id, text, subject in notes if recipient_id]
    if not notes:
        return
    Notification.objects.bulk_create(
        (Notification(recipient_id=recipient_id, kind=kind, text=text,
                      subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk)
         for recipient_id, text, subject in notes), batch_size=500)
    emails = dict(get_user_model().objects.filter(pk__in={n[0] for n in notes}).exclude(email="")
                  .values_list("pk", "email"))
    mails = [(f"[psops] {text[:80]}", text, None, [emails[who]]) for who, text, _ in notes if who in emails]
    if mails:
        transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=True))


def notify(*, recipients: Iterable[Any], kind: str, text: str, subject: models.Model | None = None) -> None:
    """In-app notification for each recipient, and an e-mail after the transaction commits."""
    people = {u.pk: u for u in recipients if u is not None and getattr(u, "pk", None)}
    if not people:
        return
    ct = ContentType.objects.get_for_model(subject) if subject is not None else None
    Notification.objects.bulk_create(
        Notification(recipient=u, kind=kind, text=text[:500], subject_type=ct,
                     subject_id=subject.pk if subject is not None else None)
        for u in people.values()
    )
    addresses = [u.email for u in people.values() if u.email]
    if addresses:
        transaction.on_commit(lambda: send_mail(f"[psops] {text[:80]}", text, None, addresses, fail_silently=True))


def message_post(*, user: Any, thread: Thread, body: str, kind: str = Message.Kind.COMMENT,
                 subject: models.Model | None = None, parent: Message | None = None) -> Message:
    """Post to the engagement's thread; every @username named is notified. A double of a message just posted
    (`MESSAGE_DOUBLE_WINDOW`) is not stored again: the earlier message is returned with `already_posted` set."""
    body = (body or "").strip()
    if not body:
        raise ApplicationError(code="empty-message", message="A message needs some text.", field="body")
    if kind not in Message.Kind.values:
        raise ApplicationError(code="invalid-kind", message=f"Unknown message kind '{kind}'.", field="kind")
    if parent is not None and parent.thread_id != thread.pk:
        raise ApplicationError(code="wrong-thread", message="A reply must stay in its thread.", field="parent")
    names = set(MENTION.findall(body))
    mentioned = list(get_user_model().objects.filter(username__in=names, is_active=True)) if names else []
    mentioned, unseen = _who_sees(thread, mentioned)
    with transaction.atomic():
        # The thread's row is the lock: of two posts at once, the second waits and then finds the first.
        list(Thread.objects.select_for_update().filter(pk=thread.pk).values_list("pk", flat=True))
        subject_type = ContentType.objects.get_for_model(subject) if subject is not None else None
        earlier = (Message.objects.filter(thread=thread, author=user, kind=kind, body=body, parent=parent,
                                          subject_type=subject_type, subject_id=getattr(subject, "pk", None),
                                          created_at__gte=timezone.now() - MESSAGE_DOUBLE_WINDOW)
                   .order_by("-created_at", "-id").first())
        if earlier is not None:
            earlier.already_posted = True
            return earlier
        msg = Message.objects.create(
            thread=thread, author=user, kind=kind, body=body, parent=parent,
            subject_type=subject_type, subject_id=subject.pk if subject is not None else None,
        )
        if mentioned:
            msg.mentions.set(mentioned)
            notify(recipients=[m for m in mentioned if m.pk != user.pk], kind="mention",
                   text=f"{user} mentioned you in '{thread.title}': {body[:200]}", subject=thread)
        event_record(actor=user, subject=thread.root or thread, verb=f"message.{kind}", thread=thread,
                     message=f"{user} posted a {Message.Kind(kind).label.lower()}")
    msg.unseen_mentions = unseen  # type: ignore[attr-defined]  # for the page to say who was not told
    return msg


def _who_sees(thread: Thread, people: list[Any]) -> tuple[list[Any], list[Any]]:
    """The people named in a message on a deal's thread who see that deal (decision 0008), and those who do not: a
    mention notifies only whoever could open the deal, so the text of a deal they may not see never reaches them."""
    from psops.crm.models import Opportunity
    from psops.crm.scope import sees

    root = thread.root
    if not people or not isinstance(root, Opportunity):
        return people, []
    return [p for p in people if sees(p, root)], [p for p in people if not sees(p, root)]


def notifications_mark_read(*, user: Any, ids: list[int] | None = None) -> int:
    """Mark the user's own notifications read (all unread ones when no ids are given)."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
