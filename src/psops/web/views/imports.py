"""The import pages (administrators): upload a file, map its columns with a preview of the first rows, follow the
check, read the report of refused rows (or download it), then import (psops.crm.import_runs)."""

from __future__ import annotations

import csv
import itertools

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from psops.core.errors import ApplicationError
from psops.crm import imports
from psops.crm.choices import Segment
from psops.crm.import_runs import (
    MAX_ERRORS_KEPT,
    import_check,
    import_commit,
    import_commit_check,
    import_map,
    import_map_check,
    import_upload,
    rows_read,
    runs_listed,
)
from psops.crm.models import ImportRun

from .common import allows, attempt, paginate

PREVIEW_ROWS = 5


class UploadForm(forms.Form):
    file = forms.FileField(label="File", help_text="A Salesforce report exported as CSV, or an .xlsx workbook whose "
                                                   "first row names the columns.")


class MappingForm(forms.Form):
    default_segment = forms.ChoiceField(label="Segment for rows without one", required=False,
                                        choices=[("", "None: every row names its segment"), *Segment.choices])
    preset_name = forms.CharField(label="Save this mapping as (optional)", required=False, max_length=100)

    def __init__(self, *args, run: ImportRun, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [("", "Not in this file"), *((c, c) for c in run.columns)]
        for field, (label, required) in imports.FIELDS.items():
            self.fields[f"map_{field}"] = forms.ChoiceField(label=label + ("" if required else " (optional)"),
                                                            choices=columns, required=required,
                                                            initial=run.mapping.get(field, ""))
        self.order_fields([f"map_{f}" for f in imports.FIELDS])

    def mapping(self) -> dict[str, str]:
        return {field: self.cleaned_data.get(f"map_{field}") or "" for field in imports.FIELDS}


def _admin(request) -> None:
    try:
        import_check(user=request.user)
    except ApplicationError as refused:
        raise PermissionDenied(refused.message) from refused


def _list(request, form=None, status=200):
    page = paginate(request, runs_listed())
    return render(request, "web/imports.html", {"form": form or UploadForm(), "page": page,
                                                "runs": list(page.object_list)}, status=status)


@login_required
def imports_page(request):
    _admin(request)
    if request.method != "POST":
        return _list(request)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list(request, form, status=400)
    run = attempt(request, lambda: import_upload(user=request.user, upload=form.cleaned_data["file"]),
                  success="Uploaded. Check the columns, then start the check.", form=form)
    if run is None:
        return _list(request, form, status=400)
    return redirect("web:import", run.pk)


def _preview(run: ImportRun) -> list[list[str]]:
    if not run.stored:
        return []
    try:
        rows = itertools.islice(imports.table(imports_path(run), run.kind), PREVIEW_ROWS)
        return [[values.get(run.mapping.get(f, ""), "") if run.mapping.get(f) else "" for f in imports.FIELDS]
                for _, values in rows]
    except ApplicationError:
        return []


def imports_path(run: ImportRun) -> str:
    from django.core.files.storage import default_storage

    return default_storage.path(run.stored)


@login_required
def import_page(request, pk: int, form=None, status=200):
    _admin(request)
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    mapping_form = form or (MappingForm(run=run, initial={"default_segment": run.default_segment})
                            if allows(import_map_check, user=request.user, run=run) else None)
    return render(request, "web/import.html", {
        "run": run, "form": mapping_form, "fields": [label for label, _ in imports.FIELDS.values()],
        "preview": _preview(run) if mapping_form is not None else [],
        "can_commit": allows(import_commit_check, user=request.user, run=run),
        "working": run.state in (ImportRun.State.CHECKING, ImportRun.State.IMPORTING),
        "importing": run.state == ImportRun.State.IMPORTING, "rows_read": rows_read(run),
        # The commit reads the file twice (every row judged again, then written): its progress is over both passes.
        "rows_to_read": (run.rows_total or 0) * (2 if run.state == ImportRun.State.IMPORTING else 1),
        "errors_kept": MAX_ERRORS_KEPT}, status=status)


@require_POST
@login_required
def import_map_view(request, pk: int):
    _admin(request)
    run = get_object_or_404(ImportRun, pk=pk)
    form = MappingForm(request.POST, run=run)
    if not form.is_valid():
        return import_page(request, pk, form=form, status=400)
    done = attempt(request, lambda: import_map(user=request.user, run=run, mapping=form.mapping(),
                                               default_segment=form.cleaned_data["default_segment"],
                                               preset_name=form.cleaned_data["preset_name"]),
                   success="Checking every row: this page follows the progress.", form=form)
    if done is None:
        return import_page(request, pk, form=form, status=400)
    return redirect("web:import", pk)


@require_POST
@login_required
def import_commit_view(request, pk: int):
    _admin(request)
    run = get_object_or_404(ImportRun, pk=pk)
    attempt(request, lambda: import_commit(user=request.user, run=run),
            success="Importing: everything is written at once when the worker is done.")
    return redirect("web:import", pk)


@login_required
def import_errors(request, pk: int):
    """The report of refused rows, as CSV (line, field, problem)."""
    _admin(request)
    run = get_object_or_404(ImportRun, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-refused-rows.csv"'
    writer = csv.writer(response)
    writer.writerow(["line", "field", "problem"])
    writer.writerows(run.errors)
    return response
