"""Benchmarks: prints figures, asserts nothing. Run with `make bench`.

Uses a throw-away SQLite database (or DATABASE_URL if set), so it never touches your data.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
tmp = tempfile.mkdtemp(prefix="psops-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
os.environ.setdefault("PSOPS_EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
os.environ.setdefault("PSOPS_DEBUG", "1")  # a development run: DEBUG is off by default and then needs a secret key

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    call_command("migrate", verbosity=0)
    from psops.estimating import calculator

    tables = calculator.tables_from_db()
    cases = {
        "price-book": {"GL-CICD-R": "2", "attendees": "15", "GL-JIRA": "1"},
        "sm-to-saas": {"users": "1800", "projects": "7500", "large_repos": "23"},
        "implementation": {"instances": "2", "ha_geo": "1", "integrations": "3"},
    }
    print("calculator (pure, in memory)")
    n = 5000
    for template, answers in cases.items():
        runs = timed(lambda t=template, a=answers: [calculator.calculate(t, a, tables) for _ in range(n)], 3)
        print(f"  {template:<15} {min(runs) / n * 1e6:8.1f} us per ROM")
    tracemalloc.start()
    for _ in range(1000):
        calculator.calculate("sm-to-saas", cases["sm-to-saas"], tables)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak memory over 1,000 ROMs: {peak / 1024:.0f} KiB")

    from psops.billing import selectors
    from psops.workflow.demo import SCENARIOS, ensure_users

    people = ensure_users()
    from psops.crm.models import Account

    print("whole engagements through the services (7 scenarios per round, scoping to collections)")
    durations = []
    rounds = 5
    for i in range(rounds):
        start = time.perf_counter()
        for name, build in SCENARIOS:
            Account.objects.filter(name=name).update(name=f"{name} #{i}")
            build(people)
        durations.append(time.perf_counter() - start)
    print(f"  median round: {statistics.median(durations) * 1000:.0f} ms "
          f"({statistics.median(durations) / len(SCENARIOS) * 1000:.0f} ms per deal)")

    fin = people["finance"]
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        runs = timed(lambda: selectors.collection_list(user=fin), 20)
    print(f"collections list ({len(selectors.collection_list(user=fin))} open cases): "
          f"{statistics.median(runs) * 1000:.1f} ms, {len(ctx.captured_queries) // 20} query per call")
    print(f"database: {connection.vendor}")


if __name__ == "__main__":
    main()
