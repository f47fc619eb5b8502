"""Roles are Django groups with these names. One person may hold several."""

from __future__ import annotations

from typing import Any

SALES_REP = "sales_rep"
SOLUTIONS_ARCHITECT = "solutions_architect"
TAM = "tam"
PS_MANAGER = "ps_manager"
DIR_CS = "dir_cs"
PS_ENGINEER = "ps_engineer"
FINANCE = "finance"
CONTROLLER = "controller"
ADMINISTRATOR = "administrator"
TECHNICAL_ARCHITECT = "technical_architect"
DIRECTOR_PS = "director_ps"
VP_SALES = "vp_sales"
VP_GLOBAL_SERVICES = "vp_global_services"

ROLES: dict[str, str] = {
    SALES_REP: "Sales rep (SAL)",
    SOLUTIONS_ARCHITECT: "Solutions architect (SA)",
    TAM: "Technical account manager (TAM)",
    PS_MANAGER: "Manager, Professional Services",
    DIR_CS: "Director of customer success",
    PS_ENGINEER: "Professional services engineer (PSE)",
    FINANCE: "Finance",
    CONTROLLER: "Controller",
    ADMINISTRATOR: "Administrator",
    TECHNICAL_ARCHITECT: "Technical architect",
    DIRECTOR_PS: "Director of professional services",
    VP_SALES: "VP of sales",
    VP_GLOBAL_SERVICES: "VP of global services",
}


def roles_of(user: Any) -> frozenset[str]:
    """The user's role names, cached on the user object for the length of a request or service call."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_psops_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._psops_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))
