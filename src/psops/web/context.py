"""What every page's layout needs: the navigation this user may see and their unread count."""

from django.urls import NoReverseMatch, reverse

from psops.accounts import roles
from psops.accounts.roles import roles_of


def _resolves(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith("/admin/"):
        return {}
    mine = roles_of(user) if not user.is_superuser else frozenset(roles.ROLES)
    items = [("web:home", "Home")]
    if mine & {roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM, roles.PS_MANAGER, roles.DIR_CS,
               roles.ADMINISTRATOR}:
        items.append(("web:deals", "Deals"))
    if mine & {roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM}:
        items.append(("web:calculator", "Calculator"))
    if mine & {roles.PS_MANAGER, roles.DIR_CS, roles.TECHNICAL_ARCHITECT, roles.DIRECTOR_PS, roles.VP_SALES,
               roles.VP_GLOBAL_SERVICES}:
        items.append(("web:approvals", "Approvals"))
    if mine & {roles.PS_MANAGER, roles.PS_ENGINEER, roles.DIR_CS, roles.SALES_REP, roles.TAM, roles.FINANCE,
               roles.CONTROLLER, roles.DIRECTOR_PS}:
        items.append(("web:projects", "Projects"))
    if roles.PS_MANAGER in mine:
        items.append(("web:time", "Time"))
    if mine & {roles.FINANCE, roles.CONTROLLER}:
        items.append(("web:invoices", "Invoices"))
        items.append(("web:collections", "Collections"))
    if mine:  # someone without a role sees no figures (decision 0008)
        items.append(("web:dashboards", "Dashboards"))
    # Only pages that exist are offered.
    items = [(name, label) for name, label in items if _resolves(name)]
    from psops.activity.selectors import unread_badge

    return {"nav_items": items, "unread_count": unread_badge(user),
            "is_admin": user.is_superuser or roles.ADMINISTRATOR in mine}
