"""Fixtures for the calculator: the package tables, and a migrated database of its own for the CLI subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from psops.estimating.calculator import tables_from_csv

PSOPS = str(Path(sys.executable).parent / "psops")


@pytest.fixture(scope="session")
def tables():
    return tables_from_csv()


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for `psops` subprocesses: a database file migrated once per session (the test database of
    pytest-django is not visible to a subprocess)."""
    db = tmp_path_factory.mktemp("cli") / "cli.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PYTHONWARNINGS": "ignore"}
    # --skip-checks: the CLI's own tests should not depend on the system checks of apps being written elsewhere.
    result = subprocess.run([PSOPS, "migrate", "--noinput", "--skip-checks", "-v", "0"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return env


def run_psops(env, *args):
    return subprocess.run([PSOPS, *args], env=env, capture_output=True, text=True, timeout=120)
