"""Import runs: the acts of the import pages, and the worker's sweep that checks and commits them
(psops.crm.imports says what a row is)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from psops.accounts import roles
from psops.activity.services import event_record, events_record
from psops.core.bulk import insert_each
from psops.core.errors import ApplicationError
from psops.core.models import Timer

from . import imports
from .choices import Segment
from .models import Account, Contact, ImportPreset, ImportRun, Opportunity

logger = logging.getLogger(__name__)

WHO = "Only an administrator imports accounts, contacts and deals."
MAX_ERRORS_KEPT = 1000
PROGRESS_EVERY = 2000
BATCH = 2000
LEASE = dt.timedelta(minutes=15)


def import_check(*, user: Any) -> None:
    if not (getattr(user, "is_superuser", False) or roles.has_role(user, roles.ADMINISTRATOR)):
        raise ApplicationError(code="forbidden", message=WHO)


def _path(run: ImportRun) -> str:
    return default_storage.path(run.stored)


def import_upload(*, user: Any, upload: Any) -> ImportRun:
    """Keep the uploaded file, read its column names and propose a mapping (the latest preset's, or Salesforce's)."""
    import_check(user=user)
    name = (getattr(upload, "name", "") or "").strip()
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind not in ("csv", "xlsx"):
        raise ApplicationError(code="invalid-file", field="file",
                               message="Upload a .csv file (a Salesforce report export) or an .xlsx workbook.")
    if upload.size > imports.MAX_BYTES:
        raise ApplicationError(code="invalid-file", field="file",
                               message=f"The file is over {imports.MAX_BYTES // 1024 // 1024} MB; split it.")
    stored = default_storage.save(f"imports/{uuid.uuid4().hex}.{kind}", upload)
    try:
        columns = imports.headers(default_storage.path(stored), kind)
    except ApplicationError:
        default_storage.delete(stored)
        raise
    preset = ImportPreset.objects.order_by("-created_at").first()
    with transaction.atomic():
        run = ImportRun.objects.create(created_by=user, filename=name[:200], stored=stored, kind=kind,
                                       size=upload.size, columns=columns,
                                       mapping=imports.proposed_mapping(columns, preset.mapping if preset else None))
        event_record(actor=user, subject=run, verb="import.uploaded",
                     message=f"{user} uploaded {run.filename} ({len(columns)} columns) to import")
    return run


def runs_listed() -> models.QuerySet[ImportRun]:
    """The imports, newest first, as a list shows them: without their kept errors, columns, mapping and summary."""
    return (ImportRun.objects.select_related("created_by").defer("errors", "columns", "mapping", "summary")
            .order_by("-created_at", "-pk"))


def import_map_check(*, user: Any, run: ImportRun) -> None:
    import_check(user=user)
    if run.state not in (ImportRun.State.MAPPING, ImportRun.State.REFUSED):
        raise ApplicationError(code="not-now", message="This import is past choosing its columns.")
    if not run.stored:
        raise ApplicationError(code="not-now", message="The uploaded file was removed after the days kept; upload it "
                                                       "again to import it.")


def import_map(*, user: Any, run: ImportRun, mapping: dict[str, str], default_segment: str = "",
               preset_name: str = "") -> ImportRun:
    """Keep the mapping (and save it as a preset when named), then queue the check of every row."""
    import_map_check(user=user, run=run)
    mapping = imports.check_mapping(mapping, run.columns)
    if default_segment and default_segment not in Segment.values:
        raise ApplicationError(code="invalid-segment", field="default_segment",
                               message=f"Unknown segment '{default_segment}'.")
    if "segment" not in mapping and not default_segment:  # else every row would be refused for it, one by one
        raise ApplicationError(code="invalid-mapping", field="default_segment",
                               message="No column holds the segment: choose the segment for rows without one.")
    with transaction.atomic():
        if preset_name.strip():
            ImportPreset.objects.update_or_create(name=preset_name.strip()[:100],
                                                  defaults={"mapping": mapping, "created_by": user})
        _queue(run, ImportRun.State.CHECKING, mapping=mapping, default_segment=default_segment)
        event_record(actor=user, subject=run, verb="import.mapped",
                     message=f"{user} mapped the columns of {run.filename}; the rows are being checked")
    return run


def import_commit_check(*, user: Any, run: ImportRun) -> None:
    import_check(user=user)
    if run.state != ImportRun.State.READY:
        raise ApplicationError(code="not-now", message="Only a checked import with no refused row is imported.")
    if not run.stored:
        raise ApplicationError(code="not-now", message="The uploaded file was removed after the days kept; upload it "
                                                       "again to import it.")


def import_commit(*, user: Any, run: ImportRun) -> ImportRun:
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().get(pk=run.pk)
        import_commit_check(user=user, run=run)
        _queue(run, ImportRun.State.IMPORTING)
        event_record(actor=user, subject=run, verb="import.started",
                     message=f"{user} started importing {run.filename}")
    return run


def _queue(run: ImportRun, state: str, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    run.state, run.claimed_at, run.rows_done, run.failure = state, None, 0, ""
    run.save(update_fields=["state", "claimed_at", "rows_done", "failure", *fields])


# --- The worker ---------------------------------------------------------------------------------------------------


def imports_work() -> int:
    """The worker's sweep: check or commit the oldest waiting run (one a poll: a big file takes a while)."""
    now = timezone.now()
    waiting = (models.Q(state__in=(ImportRun.State.CHECKING, ImportRun.State.IMPORTING))
               & (models.Q(claimed_at__isnull=True) | models.Q(claimed_at__lt=now - LEASE)))
    with transaction.atomic():
        run = ImportRun.objects.filter(waiting).order_by("created_at", "pk").select_for_update(skip_locked=True).first()
        if run is None:
            return 0
        ImportRun.objects.filter(pk=run.pk).update(claimed_at=now)
    try:
        if run.state == ImportRun.State.CHECKING:
            check_rows(run)
        else:
            commit_rows(run)
    except ApplicationError as refused:  # the file itself (unreadable, too long): said on the page
        _finish(run, ImportRun.State.REFUSED, errors=[[0, "file", refused.message]], error_count=1)
    except Exception as error:  # kept on the run for the page, and logged with its trace
        logger.exception("Import %s failed", run.pk)
        _finish(run, ImportRun.State.FAILED, failure=f"{type(error).__name__}: {error}"[:2000])
    return 1


def _finish(run: ImportRun, state: str, **fields: Any) -> None:
    ImportRun.objects.filter(pk=run.pk).update(state=state, finished_at=timezone.now(), claimed_at=None, **fields)
    _progress_path(run).unlink(missing_ok=True)


def _progress_path(run: ImportRun) -> Path:
    return Path(default_storage.path(f"imports/{run.pk}.progress"))


def _progress(run: ImportRun, done: int) -> None:
    """Every PROGRESS_EVERY rows: on the run's row (the check), and, while importing, in a small file beside the
    upload, since the commit's one transaction shows its row's updates only when it ends (the page reads the file:
    `rows_read`). The commit reads the file twice (judge, then write): the second pass counts on from the first."""
    if done % PROGRESS_EVERY == 0:
        ImportRun.objects.filter(pk=run.pk).update(rows_done=done, claimed_at=timezone.now())
        if run.state == ImportRun.State.IMPORTING:
            _progress_path(run).write_text(str(done))


def rows_read(run: ImportRun) -> int:
    """How many rows the worker has read of this run so far (while importing, of both passes over the file)."""
    if run.state != ImportRun.State.IMPORTING:
        return run.rows_done
    try:
        return int(_progress_path(run).read_text() or 0)
    except (OSError, ValueError):
        return 0


def _judged(run: ImportRun, passed: int = 0) -> Iterator[tuple[imports.Row | None, list[tuple]]]:
    judge = imports.Judge(run.default_segment)
    for done, (line, values) in enumerate(imports.table(_path(run), run.kind), start=1):
        _progress(run, passed + done)
        yield judge.row(line, values, run.mapping)


def _forget_file(run: ImportRun) -> None:
    """The upload (and any progress file), once no page or worker needs them (imported, or abandoned)."""
    if run.stored and default_storage.exists(run.stored):
        default_storage.delete(run.stored)
    _progress_path(run).unlink(missing_ok=True)
    ImportRun.objects.filter(pk=run.pk).update(stored="")


def import_files_prune(cutoff: dt.datetime) -> int:
    """`psops prune`: delete the uploads of runs imported, failed, or left untouched since `cutoff` (the run, its
    summary and its refused rows stay). Returns how many files were deleted."""
    from django.db.models import Q

    done = Q(state__in=(ImportRun.State.DONE, ImportRun.State.FAILED))
    left = Q(created_at__lt=cutoff) & ~Q(state__in=(ImportRun.State.CHECKING, ImportRun.State.IMPORTING))
    runs = list(ImportRun.objects.exclude(stored="").filter(done | left).only("pk", "stored")[:10_000])
    for run in runs:
        _forget_file(run)
    return len(runs)


class Plan:
    """What the rows would create, after every row was judged: refused rows, and the accounts, contacts and deals
    that are new. Holds keys only (names, e-mails), never the rows."""

    def __init__(self) -> None:
        self.errors: list[list] = []
        self.error_count = 0
        self.rows = 0
        self.accounts: set[str] = set()
        self.contacts: dict[tuple[str, str], int] = {}
        self.deals: dict[tuple[str, str], int] = {}

    def refuse(self, problems: list[tuple]) -> None:
        self.error_count += len(problems)
        room = MAX_ERRORS_KEPT - len(self.errors)
        if room > 0:
            self.errors.extend(list(p) for p in problems[:room])

    def add(self, row: imports.Row) -> None:
        key = row.account.lower()
        self.accounts.add(key)
        if row.contact_email:
            self.contacts.setdefault((key, row.contact_email), row.line)
        if row.deal:
            first = self.deals.setdefault((key, row.deal.lower()), row.line)
            if first != row.line:
                self.refuse([(row.line, "deal", f"The same deal is on line {first} for this account.")])


def _plan(run: ImportRun) -> tuple[Plan, dict[str, int]]:
    plan = Plan()
    for row, problems in _judged(run):
        plan.rows += 1
        if row is None:
            plan.refuse(problems)
        else:
            plan.add(row)
    existing = imports.existing_accounts(plan.accounts)
    deals_there = imports.existing_pairs(Opportunity, set(existing.values()), "name")
    for (account, deal), line in sorted(plan.deals.items(), key=lambda item: item[1]):
        if account in existing and (existing[account], deal) in deals_there:
            plan.refuse([(line, "deal", "This deal is in psops already at this account (a duplicate).")])
    return plan, existing


def check_rows(run: ImportRun) -> None:
    plan, existing = _plan(run)
    contacts_there = imports.existing_pairs(Contact, set(existing.values()), "email")
    new_contacts = sum(1 for (account, email) in plan.contacts
                       if account not in existing or (existing[account], email) not in contacts_there)
    plan.errors.sort(key=lambda e: (e[0], e[1]))
    summary = {"rows": plan.rows, "accounts_new": len(plan.accounts - set(existing)),
               "accounts_existing": len(plan.accounts & set(existing)), "contacts_new": new_contacts,
               "contacts_existing": len(plan.contacts) - new_contacts, "deals_new": len(plan.deals)}
    state = ImportRun.State.REFUSED if plan.error_count else ImportRun.State.READY
    _finish(run, state, errors=plan.errors, error_count=plan.error_count, summary=summary, rows_total=plan.rows,
            rows_done=plan.rows)


class _Refused(Exception):
    def __init__(self, plan: Plan) -> None:
        super().__init__(f"{plan.error_count} rows refused")
        self.plan = plan


def commit_rows(run: ImportRun) -> None:
    """Everything in one transaction: the rows are judged again (psops may have changed since the check), and one
    refused row leaves nothing written. (The progress written meanwhile is seen when the transaction commits.)"""
    try:
        with transaction.atomic():
            plan, existing = _plan(run)
            if plan.error_count:
                raise _Refused(plan)
            made = _write(run, existing)
            event_record(actor=run.created_by, subject=run, verb="import.done",
                         message=(f"Imported {run.filename}: {made['accounts']} accounts, {made['contacts']} "
                                  f"contacts and {made['deals']} deals"), data=made)
            _finish(run, ImportRun.State.DONE, summary={**run.summary, "made": made}, rows_done=plan.rows)
    except _Refused as refused:
        _finish(run, ImportRun.State.REFUSED, errors=sorted(refused.plan.errors),
                error_count=refused.plan.error_count)
    else:
        _forget_file(run)  # imported: the file is not needed again (the run keeps its summary)


def _write(run: ImportRun, accounts: dict[str, int]) -> dict[str, int]:
    """The second read of the file: create what is new, BATCH rows at a time."""
    contacts_there = imports.existing_pairs(Contact, set(accounts.values()), "email")
    made = {"accounts": 0, "contacts": 0, "deals": 0}
    now = timezone.now()
    rows: list[imports.Row] = []

    def flush() -> None:
        new_accounts = {}
        for row in rows:
            key = row.account.lower()
            if key not in accounts and key not in new_accounts:
                new_accounts[key] = Account(name=row.account, website=row.website, owner_id=row.owner_id)
        created = Account.objects.bulk_create(list(new_accounts.values()))
        for key, account in zip(new_accounts, created, strict=True):
            accounts[key] = account.pk
        _events(run, Account, "account.imported", [(a.pk, None, f"Imported account {a.name}") for a in created])
        contacts = []
        for row in rows:
            pair = (accounts[row.account.lower()], row.contact_email)
            if row.contact_email and pair not in contacts_there:
                contacts_there.add(pair)
                contacts.append((pair[0], row.contact_name, row.contact_email, row.contact_title))
        insert_each(Contact, ("account", "name", "email", "title"), contacts)
        deals = [Opportunity(account_id=accounts[row.account.lower()], name=row.deal, owner_id=row.owner_id,
                             amount=row.amount, currency=row.currency, close_date=row.close_date,
                             segment=row.segment, stage=row.stage) for row in rows if row.deal]
        deals = Opportunity.objects.bulk_create(deals)
        # A deal's discussion thread opens on first use (activity.services.thread_for), as for any deal.
        _events(run, Opportunity, "opportunity.imported",
                [(d.pk, None, f"Imported from {run.filename} in {d.get_stage_display()}") for d in deals])
        Timer.objects.bulk_create([Timer(kind=Timer.Kind.OPPORTUNITY_INACTIVITY, subject_id=d.pk,
                                         due_at=imports.inactivity_due(d.segment, now))
                                   for d in deals if d.stage in imports.WATCHED_STAGES], ignore_conflicts=True)
        made["accounts"] += len(created)
        made["contacts"] += len(contacts)
        made["deals"] += len(deals)
        rows.clear()

    for row, _ in _judged(run, passed=run.rows_total or 0):
        assert row is not None  # the plan found no refused row
        rows.append(row)
        if len(rows) >= BATCH:
            flush()
    flush()
    return made


def _events(run: ImportRun, model: type[models.Model], verb: str, rows: list[tuple[int, int | None, str]]) -> None:
    if rows:
        events_record(actor=run.created_by, verb=verb, subject_model=model, rows=rows)
