"""The customer acting without an account (through a private link): who, from where, with what browser."""

from __future__ import annotations

from dataclasses import dataclass

from psops.core.errors import ApplicationError

from .models import Account, Contact


@dataclass(frozen=True)
class CustomerActor:
    contact: Contact
    ip_address: str = ""
    user_agent: str = ""

    # Services treat a customer as an actor with no user account.
    is_authenticated = False
    pk = None

    @property
    def label(self) -> str:
        return f"customer {self.contact.name} <{self.contact.email}>"

    def check_account(self, account: Account | int) -> None:
        account_id = account if isinstance(account, int) else account.pk
        if self.contact.account_id != account_id:
            raise ApplicationError(code="forbidden", message="This contact does not belong to the customer's account.")
