"""Who is on the other end of a request: the client's address, and the address the client reached us on.

Both are read in one place so that login throttling, signatures and acceptances, and customer links agree, and so
that a header a client can write (X-Forwarded-For, Host) is believed only as far as the settings allow.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# In PSOPS_TRUSTED_PROXIES: a peer that is not an IP address (a proxy talking to gunicorn over a Unix socket).
UNIX_SOCKET = "unix"

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("psops_request", default=None)


@lru_cache(maxsize=8)
def _parse_proxies(entries: tuple[str, ...]) -> tuple[tuple[IPNetwork, ...], bool]:
    networks = []
    unix = False
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry.lower() == UNIX_SOCKET:
            unix = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"PSOPS_TRUSTED_PROXIES: '{entry}' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)."
            ) from exc
    return tuple(networks), unix


def trusted_proxies(entries: Iterable[str] | None = None) -> tuple[tuple[IPNetwork, ...], bool]:
    """The trusted proxy networks, and whether a Unix-socket peer counts as one. Raises ImproperlyConfigured on an
    entry that is neither an address nor a network."""
    return _parse_proxies(tuple(settings.TRUSTED_PROXIES if entries is None else entries))


def _ip(text: str) -> IPAddress | None:
    """The address in one X-Forwarded-For hop or REMOTE_ADDR, without a port; None when it is not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 192.0.2.1:5678
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPAddress | None, networks: tuple[IPNetwork, ...], unix: bool) -> bool:
    if address is None:
        return unix
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the peer is one of PSOPS_TRUSTED_PROXIES, whose forwarded headers may be believed."""
    networks, unix = trusted_proxies()
    return bool(networks or unix) and _trusted(_ip(request.META.get("REMOTE_ADDR", "") or ""), networks, unix)


def client_address(request: HttpRequest) -> str:
    """The client's IP address: the peer (REMOTE_ADDR), unless the peer is one of PSOPS_TRUSTED_PROXIES; then the
    right-most address in X-Forwarded-For that is not a trusted proxy. Entries left of that one were written by the
    client and could say anything, so they are never read. Empty when the peer has no IP address."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks, unix = trusted_proxies()
    peer = _ip(remote)
    if not (networks or unix) or not _trusted(peer, networks, unix):
        return str(peer) if peer is not None else remote[:64]
    # The nearest hop we can vouch for so far: the peer itself, then each trusted proxy in turn.
    nearest = str(peer) if peer is not None else ""
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            # A trusted proxy writes addresses; anything else came from the client, so stop at what we know.
            return nearest
        if not _trusted(address, networks, False):
            return str(address)
        nearest = str(address)
    return nearest


def current_request() -> HttpRequest | None:
    """The request this thread (or task) is serving, set by CurrentRequestMiddleware; None outside a request."""
    return _current_request.get()


def set_current_request(request: HttpRequest | None) -> contextvars.Token:
    return _current_request.set(request)


def reset_current_request(token: contextvars.Token) -> None:
    _current_request.reset(token)


def public_base_url() -> str:
    """Where customers reach this server, for links e-mailed to them: PSOPS_BASE_URL when set; otherwise the scheme
    and host of the request being served (its Host was checked against ALLOWED_HOSTS), so the link works on whatever
    address and port the server runs; otherwise (a worker, a command) the configured default."""
    if settings.PSOPS["BASE_URL_SET"]:
        return settings.PSOPS["BASE_URL"].rstrip("/")
    request = current_request()
    if request is not None:
        try:
            return f"{request.scheme}://{request.get_host()}"
        except DisallowedHost:  # refused elsewhere; never build a link on a host we do not answer for
            pass
    return settings.PSOPS["BASE_URL"].rstrip("/")
