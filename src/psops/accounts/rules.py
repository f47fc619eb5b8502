"""Predicates shared by every app's rules."""

import rules

from . import roles


def role(*names: str):
    """A predicate: the user holds any of these roles (superusers hold all)."""

    @rules.predicate(name=f"has_role({','.join(names)})")
    def _pred(user) -> bool:
        return bool(getattr(user, "is_superuser", False)) or roles.has_role(user, *names)

    return _pred


is_administrator = role(roles.ADMINISTRATOR)
