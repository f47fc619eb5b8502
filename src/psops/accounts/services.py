"""Users and their roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from psops.activity.services import event_record
from psops.core.errors import ApplicationError

from .models import User
from .roles import ROLES


def user_ensure(*, actor: Any = None, username: str, roles: list[str], password: str | None = None,
                first_name: str = "", last_name: str = "", email: str = "", manager: User | None = None,
                is_staff: bool = False, is_superuser: bool = False) -> User:
    """Create the user, or bring an existing one's roles up to date (used by set-up and demo data)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ApplicationError(code="unknown-role", message=f"Unknown role(s): {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "email": email, "manager": manager,
                      "is_staff": is_staff, "is_superuser": is_superuser},
        )
        if created and password:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(*[Group.objects.get_or_create(name=r)[0] for r in roles])
        if created:
            event_record(actor=actor, subject=user, verb="user.created",
                         message=f"User {username} created with roles {', '.join(roles)}")
    user._psops_roles = None  # type: ignore[attr-defined]  # roles changed: forget the cache
    return user
