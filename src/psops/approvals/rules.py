import rules

from psops.accounts.rules import is_administrator

rules.add_perm("approvals.publish_policy", is_administrator)
