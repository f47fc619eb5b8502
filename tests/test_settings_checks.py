"""Safe by default: DEBUG is off unless asked for, no secret key means no start (outside development), passwords are
checked by all of Django's validators, and `psops check` fails on settings unsafe for production.

The settings are read once per process, so each variant runs in a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.checks import run_checks
from django.core.exceptions import ValidationError

ROOT = Path(__file__).resolve().parents[1]
PSOPS = str(Path(sys.executable).parent / "psops")
GOOD_KEY = "k7Qv2-production-secret-0a9f3c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
# Settings fit for production; each test below spoils one of them.
PRODUCTION = {
    "PSOPS_PRODUCTION": "1", "PSOPS_SECRET_KEY": GOOD_KEY, "PSOPS_BASE_URL": "https://psops.example.com",
    "PSOPS_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "PSOPS_EMAIL_HOST": "smtp.example.com",
}


def environment(**values: str | None) -> dict[str, str]:
    """This process's environment without any PSOPS_ setting (the tests' own PSOPS_DEBUG=1 included), plus
    `values`; a None value leaves the variable out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSOPS_") and k not in (
        "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "PORT")}
    env["DJANGO_SETTINGS_MODULE"] = "psops.settings"
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def run(args: list[str], **values: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=environment(**values), capture_output=True, text=True, timeout=120)


def setting(name: str, **values: str | None) -> str:
    result = run([sys.executable, "-c", f"from django.conf import settings; print(repr(settings.{name}))"], **values)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for():
    assert setting("DEBUG", PSOPS_SECRET_KEY=GOOD_KEY) == "False"
    assert setting("DEBUG", **PRODUCTION) == "False"
    assert setting("DEBUG", PSOPS_DEBUG="1") == "True"


def test_without_a_secret_key_the_app_refuses_to_start_with_a_clear_message():
    result = run([PSOPS, "check"])
    assert result.returncode == 2
    assert "psops cannot start: PSOPS_SECRET_KEY is not set" in result.stderr and "PSOPS_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr
    # The web server's entry point refuses too.
    served = run([sys.executable, "-c", "import psops.wsgi"], PSOPS_PRODUCTION="1")
    assert served.returncode != 0 and "PSOPS_SECRET_KEY is not set" in served.stderr


def test_a_development_machine_may_use_the_development_key():
    assert run([PSOPS, "check"], PSOPS_DEBUG="1").returncode == 0


def test_production_allows_only_the_host_of_its_links():
    assert setting("ALLOWED_HOSTS", **PRODUCTION) == "['psops.example.com']"
    assert setting("ALLOWED_HOSTS", **{**PRODUCTION, "PSOPS_ALLOWED_HOSTS": "a.example,b.example"}) == (
        "['a.example', 'b.example']")
    assert setting("ALLOWED_HOSTS", **{**PRODUCTION, "PSOPS_BASE_URL": None}) == "[]"


def test_production_settings_pass_the_deploy_check():
    result = run([PSOPS, "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_fails_with_an_error_when_debug_is_on():
    result = run([PSOPS, "check", "--deploy"], **{**PRODUCTION, "PSOPS_DEBUG": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "SystemCheckError" in output and "psops.E001" in output, output
    assert output.count("psops.E001") == 1  # asked for both ways (deploy, production), reported once


@pytest.fixture
def production_settings(settings):
    """In this process: the settings of a fit production instance (each test below spoils one)."""
    settings.DEBUG = False
    settings.PRODUCTION = True
    settings.SECRET_KEY = GOOD_KEY
    settings.ALLOWED_HOSTS = ["psops.example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.PSOPS = {**settings.PSOPS, "BASE_URL": "https://psops.example.com", "BASE_URL_SET": True}
    settings.TRUSTED_PROXIES = []
    return settings


def our_problems(deploy: bool = True) -> list[str]:
    return sorted(m.id for m in run_checks(include_deployment_checks=deploy) if m.id.startswith("psops."))


def test_fit_settings_have_no_problems(production_settings):
    assert our_problems() == []


@pytest.mark.parametrize("change, problems", [
    ({"DEBUG": True}, ["psops.E001"]),
    ({"SECRET_KEY": "short-key"}, ["psops.E002"]),
    ({"SECRET_KEY": "a" * 60}, ["psops.E002"]),
    ({"SECRET_KEY": "psops-development-only-secret-key-change-me-in-production"}, ["psops.E002"]),
    ({"ALLOWED_HOSTS": []}, ["psops.E003"]),
    ({"ALLOWED_HOSTS": ["*"]}, ["psops.E003"]),
    ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, ["psops.E004"]),
    ({"PSOPS": {"BASE_URL": "http://127.0.0.1:8000", "BASE_URL_SET": False}}, ["psops.E005"]),
    ({"PSOPS": {"BASE_URL": "http://psops.example.com", "BASE_URL_SET": True}}, ["psops.E006"]),
    ({"PSOPS": {"BASE_URL": "https://links.example.net", "BASE_URL_SET": True}}, ["psops.W001"]),
    ({"PRODUCTION": False}, ["psops.E007"]),
    ({"TRUSTED_PROXIES": ["10.0.0.2", "0.0.0.0/0"]}, ["psops.E008"]),
    ({"TRUSTED_PROXIES": ["10.0.0.300"]}, ["psops.E009"]),
])
def test_each_unsafe_setting_is_an_error_of_its_own(production_settings, change, problems):
    for name, value in change.items():
        if name == "PSOPS":
            value = {**production_settings.PSOPS, **value}
        setattr(production_settings, name, value)
    assert our_problems() == problems
    # In production the plain check (run before migrate, the worker and runserver) refuses them too.
    assert our_problems(deploy=False) == (problems if production_settings.PRODUCTION else [])


def test_in_production_every_check_fails_on_unsafe_settings_and_development_does_not():
    result = run([PSOPS, "check"], **{**PRODUCTION, "PSOPS_EMAIL_BACKEND": None, "PSOPS_DEBUG": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "psops.E001" in output and "psops.E004" in output, output
    # The same settings on a development machine are fine until someone asks whether they are fit to deploy.
    assert run([PSOPS, "check"], PSOPS_DEBUG="1").returncode == 0
    assert run([PSOPS, "check", "--deploy"], PSOPS_DEBUG="1").returncode == 1


@pytest.mark.parametrize("password", ["12345678", "password123", "psops-admin"])
def test_weak_passwords_are_refused(password):
    from psops.accounts.models import User

    user = User(username="psops-admin", email="psops-admin@example.com")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


def test_a_long_uncommon_password_is_accepted():
    validate_password("correct horse battery staple 42")
