"""Real `psops worker` processes on the test database, for the tests of timers and of crashed workers.

On PostgreSQL the workers connect to the test database itself and the test commits for real; a subprocess cannot see
SQLite's in-memory test database, so there they share a file copy of it, loaded back for the test to read through
the ORM."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote as urlquote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
WAIT = 120  # seconds: generous deadlines for a slow, busy machine; the tests poll and are done in seconds


class SharedDatabase:
    """The test database as worker processes see it. On PostgreSQL they connect to the test database itself, and
    the test commits for real; a subprocess cannot see SQLite's in-memory test database, so there they share a file
    copy of it, which is loaded back for the test to read through the ORM."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sqlite = connection.vendor == "sqlite"
        self.path = folder / "shared.sqlite3"
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    @property
    def url(self) -> str:
        if self.sqlite:
            return f"sqlite:///{self.path}"
        s = connection.settings_dict
        return (f"postgres://{urlquote(s['USER'])}:{urlquote(s['PASSWORD'])}@{s['HOST'] or 'localhost'}:"
                f"{s['PORT'] or 5432}/{s['NAME']}")

    def share(self) -> None:
        if self.sqlite:
            connection.ensure_connection()
            target = sqlite3.connect(self.path)
            try:
                connection.connection.backup(target)
            finally:
                target.close()

    def load_back(self) -> None:
        if self.sqlite:
            source = sqlite3.connect(self.path)
            try:
                source.backup(connection.connection)
            finally:
                source.close()

    def start(self, worker_id: str, *options: str, **env: str) -> subprocess.Popen:
        """`psops worker` (through tests/worker_hooks.py, which counts the timer runs that took effect and, asked
        to, hangs in the first timer)."""
        environment = {**os.environ, "DATABASE_URL": self.url, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                       "PSOPS_SECRET_KEY": "timer-test-only", "PSOPS_DEBUG": "1", "PYTHONWARNINGS": "ignore",
                       "PSOPS_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                       "PSOPS_TEST_TIMER_RUNS": "1", "PSOPS_TEST_HANG_FILE": str(self.folder / "hung"), **env}
        command = [sys.executable, "-m", "tests.worker_hooks", "--worker-id", worker_id, "--no-reload",
                   "--no-startup-delay", "--skip-checks", "-v", "1", *options]
        log = self.folder / f"{worker_id}.log"
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} ---\n{log.read_text()[-3000:]}" for _, log in self.processes)

    def wait(self, process: subprocess.Popen) -> int:
        try:
            return process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"A worker was still running after {WAIT} s.\n{self.logs()}")

    def wait_for(self, what: str, condition, *, watch: subprocess.Popen) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            if watch.poll() is not None:
                pytest.fail(f"The worker exited ({watch.returncode}) while waiting for {what}.\n{self.logs()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Still waiting for {what} after {WAIT} s.\n{self.logs()}")
            time.sleep(0.05)

    def read(self, sql: str):
        """One value, read from the shared database while the workers run."""
        if self.sqlite:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                return db.execute(sql).fetchone()[0]
            finally:
                db.close()
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]

    def kill_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WAIT)
