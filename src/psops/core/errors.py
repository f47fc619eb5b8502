"""One exception type for every domain refusal.

A service raises ApplicationError before it writes anything (or inside a transaction that then rolls back), so a
refusal never leaves half-written data. Every door shows `message`; the API maps it to a 4xx, the CLI to exit 2.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A refused act: a stable machine code and a sentence for a person."""

    # Codes that mean "you may not", as opposed to "not now" or "not like that".
    FORBIDDEN_CODES = frozenset({"forbidden", "segregation-of-duties", "needs-approver"})

    def __init__(self, *, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def http_status(self) -> int:
        if self.code in self.FORBIDDEN_CODES:
            return 403
        if self.code.endswith("-not-found"):
            return 404
        if self.code in ("conflict", "already-recorded"):  # raced another act, or a double of one already done
            return 409
        return 400

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"
