"""The approval policy is data: a list of rules, each naming when it applies and who must approve.

This module reads and checks that data; it knows nothing about the records being approved, only their facts:
`high` (a ROM's high value), `discount` (percent), `billing_terms` and `investment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psops.accounts.roles import ROLES
from psops.core.errors import ApplicationError
from psops.core.money import parse_amount

KINDS = ("rom", "quote", "sow")
CONDITIONS = ("always", "high_over", "discount", "non_standard_terms", "investment")
STANDARD_BILLING_TERMS = "full-on-signature"

DEFAULT_RULES: list[dict[str, Any]] = [
    {"code": "rom-approval", "label": "ROM approval by the PS manager or Dir. CS", "applies_to": ["rom"],
     "when": {"always": True}, "approvers": ["ps_manager", "dir_cs"], "mode": "any"},
    {"code": "technical-review", "label": "Technical architect's review of a ROM over $50,000",
     "applies_to": ["rom"], "when": {"high_over": "50000"}, "approvers": ["technical_architect"], "mode": "any"},
    {"code": "discount", "label": "Any discount needs the Dir. CS", "applies_to": ["quote"],
     "when": {"discount": True}, "approvers": ["dir_cs"], "mode": "any"},
    {"code": "billing-terms", "label": "Billing terms other than the standard need the Director of PS",
     "applies_to": ["quote", "sow"], "when": {"non_standard_terms": True}, "approvers": ["director_ps"],
     "mode": "any"},
    {"code": "investment", "label": "Free (investment) services need the VP of sales and the VP of global services",
     "applies_to": ["quote"], "when": {"investment": True}, "approvers": ["vp_sales", "vp_global_services"],
     "mode": "all"},
]


@dataclass(frozen=True)
class Requirement:
    code: str
    label: str
    approvers: tuple[str, ...]
    mode: str  # "any": one approval from any of the roles; "all": one from each role, by different people


def _bad(message: str) -> ApplicationError:
    return ApplicationError(code="invalid-policy", message=message, field="rules")


def validate(rules: Any) -> list[dict[str, Any]]:
    """Check a policy's rules and return them; refuse with a precise message otherwise."""
    if not isinstance(rules, list) or not rules:
        raise _bad("A policy is a non-empty list of rules.")
    seen: set[str] = set()
    for i, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            raise _bad(f"Rule {i} is not an object.")
        code = rule.get("code")
        if not isinstance(code, str) or not code:
            raise _bad(f"Rule {i} needs a code.")
        if code in seen:
            raise _bad(f"Rule code '{code}' appears twice.")
        seen.add(code)
        kinds = rule.get("applies_to")
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise _bad(f"Rule '{code}': applies_to must list some of {', '.join(KINDS)}.")
        when = rule.get("when")
        if not isinstance(when, dict) or len(when) != 1 or next(iter(when)) not in CONDITIONS:
            raise _bad(f"Rule '{code}': when must hold exactly one of {', '.join(CONDITIONS)}.")
        if "high_over" in when:
            try:  # bounded like every amount: a NaN or 1e999 here would break every ROM's submission
                parse_amount(str(when["high_over"]), field="the high_over value")
            except ApplicationError as exc:
                raise _bad(f"Rule '{code}': {exc.message}") from exc
        approvers = rule.get("approvers")
        if not isinstance(approvers, list) or not approvers or any(r not in ROLES for r in approvers):
            raise _bad(f"Rule '{code}': approvers must be roles among {', '.join(ROLES)}.")
        if rule.get("mode", "any") not in ("any", "all"):
            raise _bad(f"Rule '{code}': mode is 'any' or 'all'.")
    return rules


def _applies(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    (condition, value), = when.items()
    if condition == "always":
        return bool(value)
    if condition == "high_over":
        high = facts.get("high")
        return high is not None and Decimal(str(high)) > Decimal(str(value))
    if condition == "discount":
        return Decimal(str(facts.get("discount") or 0)) > 0
    if condition == "non_standard_terms":
        return facts.get("billing_terms", STANDARD_BILLING_TERMS) != STANDARD_BILLING_TERMS
    if condition == "investment":
        return bool(facts.get("investment"))
    return False  # validate() refuses unknown conditions


def review_threshold(rules: list[dict[str, Any]]) -> Decimal | None:
    """The ROM high value above which the policy asks a technical architect's review (None: it never does). The
    policy is the one place this figure lives; the calculator's flag quotes it."""
    found = [Decimal(str(r["when"]["high_over"])) for r in rules
             if "rom" in r["applies_to"] and "high_over" in r["when"] and "technical_architect" in r["approvers"]]
    return min(found) if found else None


def requirements_for(rules: list[dict[str, Any]], kind: str, facts: dict[str, Any]) -> list[Requirement]:
    """The approvals a record of `kind` with these facts needs under these rules, in rule order."""
    return [
        Requirement(code=r["code"], label=r.get("label", r["code"]), approvers=tuple(r["approvers"]),
                    mode=r.get("mode", "any"))
        for r in rules
        if kind in r["applies_to"] and _applies(r["when"], facts)
    ]
