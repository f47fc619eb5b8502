"""Run one import of a file in a process of its own (so its peak memory is its own), and print its figures as JSON:
`python bench/import_run.py FILE`. Used by measure.py's import part; it writes to the bench database only."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from psops.crm import import_runs
    from psops.crm.models import ImportRun

    admin = get_user_model().objects.get(username="admin")
    path = sys.argv[1]
    started = time.perf_counter()
    with open(path, "rb") as handle:
        run = import_runs.import_upload(user=admin, upload=File(handle, name=os.path.basename(path)))
    import_runs.import_map(user=admin, run=run, mapping=run.mapping, default_segment="large")
    checking = time.perf_counter()
    import_runs.imports_work()
    run.refresh_from_db()
    checked = time.perf_counter()
    if run.state == ImportRun.State.READY:
        import_runs.import_commit(user=admin, run=run)
        import_runs.imports_work()
        run.refresh_from_db()
    done = time.perf_counter()
    from django.core.files.storage import default_storage

    if run.stored:  # an imported file is deleted by the commit itself
        default_storage.delete(run.stored)
    print(json.dumps({"state": run.state, "errors": run.errors[:3], "summary": run.summary,
                      "upload_s": checking - started, "check_s": checked - checking, "commit_s": done - checked,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
