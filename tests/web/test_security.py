"""Production settings pass Django's deployment checks, and the security headers are on every page."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings():
    env = {**os.environ, "PSOPS_PRODUCTION": "1", "PSOPS_DEBUG": "0",
           "PSOPS_SECRET_KEY": "x" * 20 + "a-long-and-random-enough-production-secret-key-for-the-check",
           "PSOPS_ALLOWED_HOSTS": "psops.example.com", "PSOPS_BASE_URL": "https://psops.example.com",
           "PSOPS_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
           "DJANGO_SETTINGS_MODULE": "psops.settings"}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests for their own process only
    result = subprocess.run([sys.executable, "-m", "psops.manage", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_settings_are_flagged_by_the_deploy_check():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "psops.settings", "PSOPS_DEBUG": "1"}
    for name in ("PSOPS_PRODUCTION", "PSOPS_SECRET_KEY", "PSOPS_BASE_URL"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "psops.manage", "check", "--deploy"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "security.W" in output
    for problem in ("psops.E001", "psops.E002", "psops.E004", "psops.E005", "psops.E007"):
        assert problem in output, problem
