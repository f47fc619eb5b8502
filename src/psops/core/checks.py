"""System checks for settings that are unsafe in production, at error level so the check fails.

`psops check --deploy` runs them always; with PSOPS_PRODUCTION=1 plain `psops check` (and so `migrate`, the
worker and `runserver`, which run the checks first) runs them too. Django's own deployment checks are only
warnings; these are the ones this application cannot run safely without.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.http.request import validate_host

from .client import trusted_proxies

# Backends that never deliver mail: customers would never receive their links.
UNDELIVERED_MAIL = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5


def _secret_key_problem() -> str | None:
    key = settings.SECRET_KEY or ""
    if key == settings.DEVELOPMENT_SECRET_KEY:
        return "PSOPS_SECRET_KEY is not set: the public development key signs sessions and customer links."
    if key.startswith("django-insecure-"):
        return "PSOPS_SECRET_KEY is a key Django generated for development."
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_CHARACTERS:
        return (f"PSOPS_SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters "
                f"(at least {MIN_SECRET_KEY_CHARACTERS} different ones).")
    return None


def production_problems() -> list[Error | Warning]:
    """Everything about the current settings that is unsafe or broken in production."""
    problems: list[Error | Warning] = []
    if settings.DEBUG:
        problems.append(Error("DEBUG is on: error pages would show code, settings and data to anyone.",
                              hint="Unset PSOPS_DEBUG (or set PSOPS_DEBUG=0).", id="psops.E001"))
    key_problem = _secret_key_problem()
    if key_problem:
        problems.append(Error(key_problem, id="psops.E002",
                              hint="python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"))
    hosts = list(settings.ALLOWED_HOSTS)
    if not hosts:
        problems.append(Error("ALLOWED_HOSTS is empty: every request would be refused.", id="psops.E003",
                              hint="Set PSOPS_ALLOWED_HOSTS (comma-separated) or PSOPS_BASE_URL."))
    elif "*" in hosts:
        problems.append(Error("ALLOWED_HOSTS accepts any host.", id="psops.E003",
                              hint="Name the host names the app is served on in PSOPS_ALLOWED_HOSTS."))
    if settings.EMAIL_BACKEND in UNDELIVERED_MAIL:
        problems.append(Error(f"The e-mail backend {settings.EMAIL_BACKEND} delivers no mail: customers would "
                              "never get their links.", id="psops.E004",
                              hint="Set PSOPS_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and "
                                   "PSOPS_EMAIL_HOST (and the user, password, port and TLS settings)."))
    base_url = settings.PSOPS["BASE_URL"]
    if not settings.PSOPS["BASE_URL_SET"]:
        problems.append(Error("PSOPS_BASE_URL is not set: links e-mailed by workers would point at "
                              f"{base_url}.", id="psops.E005",
                              hint="Set PSOPS_BASE_URL to the https:// address customers reach the app on."))
    else:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(Error(f"PSOPS_BASE_URL ({base_url}) is not an https:// address: customer links "
                                  "would travel unencrypted.", id="psops.E006",
                                  hint="Serve the app behind HTTPS and set PSOPS_BASE_URL=https://..."))
        elif hosts and not validate_host(parts.hostname, hosts):
            problems.append(Warning(f"The host of PSOPS_BASE_URL ({parts.hostname}) is not in ALLOWED_HOSTS: "
                                    "customer links would be refused unless another server answers them.",
                                    id="psops.W001"))
    if not settings.PRODUCTION:
        problems.append(Error("PSOPS_PRODUCTION is not set: secure cookies, HSTS and the HTTPS redirect are off.",
                              hint="Set PSOPS_PRODUCTION=1.", id="psops.E007"))
    networks, _ = _proxies_or_none()
    if any(network.prefixlen == 0 for network in networks):
        problems.append(Error("PSOPS_TRUSTED_PROXIES trusts every address: any client could choose the address "
                              "that login throttling and signatures record.", id="psops.E008",
                              hint="List only the addresses of your own reverse proxies."))
    return problems


def _proxies_or_none():
    try:
        return trusted_proxies()
    except ImproperlyConfigured:
        return (), False  # reported by check_trusted_proxies


@register(Tags.security)
def check_trusted_proxies(app_configs=None, **kwargs):
    """A mistyped proxy address is an error wherever the app runs (it would silently trust nothing)."""
    try:
        trusted_proxies()
    except ImproperlyConfigured as problem:
        return [Error(str(problem), id="psops.E009")]
    return []


@register(Tags.security)
def check_production(app_configs=None, **kwargs):
    """With PSOPS_PRODUCTION=1 every check (not only `--deploy`) refuses unsafe settings."""
    return production_problems() if settings.PRODUCTION else []


@register(Tags.security, deploy=True)
def check_deploy(app_configs=None, **kwargs):
    """`check --deploy` asks whether these settings are fit to deploy; with PSOPS_PRODUCTION=1 check_production
    already answered."""
    return [] if settings.PRODUCTION else production_problems()
