"""Small helpers every app may use: errors, money, business days, and who a request comes from."""

from .client import client_address, public_base_url

__all__ = ["client_address", "public_base_url"]
