"""The client's address: the peer, unless the peer is a trusted proxy; then the right-most address in
X-Forwarded-For that is not a trusted proxy. Anything a client writes further left is never believed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from psops.core import client_address

CLIENT, FORGED = "198.51.100.23", "192.0.2.99"


def address(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert address(CLIENT, FORGED) == CLIENT
    assert address("10.0.0.2", f"{FORGED}, {CLIENT}") == "10.0.0.2"


@pytest.mark.parametrize("remote, forwarded, expected", [
    ("10.0.0.2", CLIENT, CLIENT),                          # one proxy
    ("10.0.0.2", f"{FORGED}, {CLIENT}", CLIENT),            # the client wrote a header of its own: not believed
    ("10.0.0.2", f"{FORGED}, {CLIENT}, 10.0.0.7", CLIENT),  # two proxies
    ("10.0.0.2", f"{CLIENT}:51234", CLIENT),                # a port is dropped
    ("10.0.0.2", "[2001:db8::5]:443", "2001:db8::5"),
    ("10.0.0.2", f"{CLIENT}, not-an-address", "10.0.0.2"),  # garbage where a proxy writes: keep what we know
    ("10.0.0.2", "", "10.0.0.2"),                           # no header: the proxy itself
    ("10.0.0.2", "10.0.0.9, 10.0.0.7", "10.0.0.9"),         # from inside: the left-most trusted hop
    ("::ffff:10.0.0.2", CLIENT, CLIENT),                    # an IPv4 proxy seen over IPv6
    ("203.0.113.5", f"{FORGED}", "203.0.113.5"),            # not a proxy: its header means nothing
])
def test_behind_trusted_proxies_the_right_most_untrusted_address_counts(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert address(remote, forwarded) == expected


def test_a_proxy_on_a_unix_socket(settings):
    settings.TRUSTED_PROXIES = []
    assert address("", CLIENT) == ""
    settings.TRUSTED_PROXIES = ["unix"]
    assert address("", f"{FORGED}, {CLIENT}") == CLIENT


def test_a_mistyped_proxy_is_refused_loudly(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.300"]
    with pytest.raises(ImproperlyConfigured, match="10.0.0.300"):
        address("10.0.0.2", CLIENT)


@pytest.mark.parametrize("proxies, remote, secure", [
    ([], "10.0.0.2", False),                # no proxy trusted: a client's "https" is not believed
    (["10.0.0.0/24"], "203.0.113.5", False),  # not from the proxy
    (["10.0.0.0/24"], "10.0.0.2", True),     # from the proxy
    (["unix"], "", True),                     # the proxy over a Unix socket
])
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(settings, proxies, remote, secure):
    from psops.core.middleware import ForwardedProtoMiddleware

    settings.TRUSTED_PROXIES = proxies
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    seen = {}

    def view(request):
        seen["secure"] = request.is_secure()

    ForwardedProtoMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_PROTO="https"))
    assert seen["secure"] is secure
