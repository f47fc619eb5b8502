"""Benchmarks: prints figures, asserts nothing. Run with `make bench` (SCALE=1.0) or `make bench SCALE=0.1`.

Speed at a real firm's size (docs/decisions/0010-benchmark.md): generates the data set (datagen.py) at SCALE on a
database of its own, then measures every list, home and summary page, the receivables ageing, billing and the timer
sweep (measure.py) and prints one table. Then the calculator's figures and whole engagements through the services.

The database: DATABASE_URL if set (its name must contain "bench": the benchmark empties it; e.g.
postgres://psops:psops@127.0.0.1:5432/psops_bench), else SQLite in the temp directory. With BENCH_REUSE=1 (or
--reuse) a database generated before is measured again as it is, without generating.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows as it comes, even piped
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{Path(tempfile.gettempdir()) / 'psops-bench' / 'bench.sqlite3'}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
os.environ.setdefault("PSOPS_EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
# Measured as served: DEBUG off (it records every query and renders more), with a key of this run's own.
os.environ.setdefault("PSOPS_DEBUG", "0")
os.environ.setdefault("PSOPS_SECRET_KEY", secrets.token_urlsafe(50))
if os.environ["DATABASE_URL"].startswith("sqlite:///"):
    Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

import django  # noqa: E402

django.setup()

import datagen  # noqa: E402
import measure  # noqa: E402
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


def code_version() -> str:
    """The commit measured (the app changes under the benchmark as people work: say which code it was)."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" with uncommitted changes in src/" if dirty else "")


def at_scale(scale: float, reuse: bool, parts: tuple[str, ...] = measure.PARTS) -> None:
    print(f"database: {datagen.database_label()}; code: {code_version()}")
    if not datagen.may_reset():  # the benchmark writes (drafts, payments, timers): only into a database of its own
        raise SystemExit("The benchmark runs only on a database whose name contains 'bench' (DATABASE_URL, e.g. "
                         "postgres://psops:psops@127.0.0.1:5432/psops_bench); unset, it uses SQLite in the temp "
                         "directory.")
    generated = None
    if reuse:
        call_command("migrate", verbosity=0, interactive=False)
        generated = datagen.generated_scale()
        if generated is None:
            print("nothing generated there yet: generating")
        else:
            print(f"reusing the data generated at SCALE={generated:g} (BENCH_REUSE)")
            datagen.check_kept()
    if generated is None:
        start = time.perf_counter()
        datagen.build(scale)
        print(f"data set ready in {time.perf_counter() - start:.0f} s (empty database, migrate, demo, generate, "
              "check)")
        generated = scale
    load_before = os.getloadavg()[0]
    rows = measure.run(parts=parts)
    print()
    print(f"speed at SCALE={generated:g} on {connection.vendor}, {os.cpu_count()} cores, load average "
          f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after "
          f"(p50/p95 over up to 15 runs after a warm-up; ratio = p95 / floor p95)")
    print(measure.table(rows))
    print()
    print("where the time goes in what is NOT met (one counted run; slowest queries):")
    print(measure.where_the_time_goes(rows))
    print()


def calculator_figures() -> None:
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


def engagements() -> None:
    """Whole engagements through the services, on the data set (they add a few deals to it)."""
    from psops.billing import selectors
    from psops.crm.models import Account
    from psops.workflow.demo import SCENARIOS, ensure_users

    people = ensure_users()
    print("whole engagements through the services (7 scenarios per round, scoping to collections)")
    durations = []
    rounds = 3
    stamp = secrets.token_hex(3)
    for i in range(rounds):
        start = time.perf_counter()
        for name, build in SCENARIOS:
            Account.objects.filter(name=name).update(name=f"{name} #{stamp}-{i}")
            build(people)
        durations.append(time.perf_counter() - start)
    print(f"  median round: {statistics.median(durations) * 1000:.0f} ms "
          f"({statistics.median(durations) / len(SCENARIOS) * 1000:.0f} ms per deal)")

    fin = people["finance"]
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        runs = timed(lambda: selectors.collection_list(user=fin, limit=25), 5)
    print(f"collections list, the 25 longest overdue of {selectors.collections_open(user=fin).count()} open cases: "
          f"{statistics.median(runs) * 1000:.1f} ms, {len(ctx.captured_queries) // 5} queries per call")


def main() -> None:
    parser = argparse.ArgumentParser(description="psops benchmarks")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("SCALE") or "1"))
    parser.add_argument("--reuse", action="store_true", default=os.environ.get("BENCH_REUSE", "") not in ("", "0"))
    parser.add_argument("--no-engagements", action="store_true", help="skip the whole-engagement rounds")
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""),
                        help=f"measure only these parts, comma-separated ({', '.join(measure.PARTS)}); the "
                             "calculator and engagements are then skipped")
    args = parser.parse_args()
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip()) or measure.PARTS
    unknown = sorted(set(parts) - set(measure.PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}: choose among {', '.join(measure.PARTS)}")
    at_scale(args.scale, args.reuse, parts)
    if args.only:
        return
    calculator_figures()
    if not args.no_engagements:
        engagements()
    print(f"database: {connection.vendor}")


if __name__ == "__main__":
    main()
