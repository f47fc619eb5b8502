"""The administrator's side of documents: the company block, template versions (edit, check, preview) and the
documents made, read-only."""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from psops.core.admin import ReadOnlyModelAdmin
from psops.core.errors import ApplicationError

from . import services
from .models import MIME, CompanyProfile, Document, DocumentTemplate, Format, Kind
from .rendering import TemplateRefused

MAX_LOGO_BYTES = 512 * 1024


class CompanyProfileForm(forms.ModelForm):
    class Meta:
        model = CompanyProfile
        fields = ["name", "address", "email", "phone", "website", "tax_id", "payment_instructions", "logo"]

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if not logo or not hasattr(logo, "content_type"):  # unchanged, or cleared
            return logo
        if logo.size > MAX_LOGO_BYTES:
            raise forms.ValidationError(f"The logo is {logo.size // 1024} KB; at most {MAX_LOGO_BYTES // 1024} KB.")
        head = logo.read(8)
        logo.seek(0)
        if not (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")):
            raise forms.ValidationError("The logo must be a PNG or JPEG image.")
        return logo


@admin.register(CompanyProfile)
class CompanyProfileAdmin(admin.ModelAdmin):
    """One company block for every document: adding one when there is one changes that one (the service keeps a
    single row)."""

    form = CompanyProfileForm
    list_display = ["name", "email", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = services.company_profile_save(user=request.user, values=form.cleaned_data)
        obj.pk = saved.pk


class TemplateForm(forms.ModelForm):
    upload = forms.FileField(required=False, label="Word template (.docx)",
                             help_text="For the Word SOW only: a .docx with Jinja fields (docxtpl), at most 10 MB.")

    class Meta:
        model = DocumentTemplate
        fields = ["kind", "format", "body", "note"]
        widgets = {"body": forms.Textarea(attrs={"rows": 40, "cols": 120, "spellcheck": "false",
                                                 "style": "font-family: monospace; width: 100%"})}
        help_texts = {"body": "HTML with Jinja fields, e.g. {{ customer.name }}, {{ quote.total|money(currency) }}. "
                              "Saving checks it against a sample record: an error names its line, and the version "
                              "in use stays in use."}

    def rendered(self) -> bytes:
        """The template filled with the sample record (the check before saving, and the preview)."""
        data = self.cleaned_data
        upload = data.get("upload")
        raw = upload.read(services.MAX_UPLOAD_BYTES + 1) if upload else b""
        data["data"] = raw
        try:
            return services.template_render(kind=data["kind"], fmt=data["format"], body=data.get("body") or "",
                                            data=raw)
        except ApplicationError as refusal:
            field = "upload" if data["format"] == Format.DOCX else "body"
            self.add_error(field if field in self.fields else None, refusal.message)
            raise

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            with contextlib.suppress(ApplicationError):  # rendered() put the refusal on its field
                self.preview = self.rendered()
        return cleaned


@admin.register(DocumentTemplate)
class DocumentTemplateAdmin(admin.ModelAdmin):
    """A template is never edited: saving publishes the next version, in use from then on. "Edit" opens the form
    with the version in use; "Preview" renders it against the sample record without saving anything."""

    form = TemplateForm
    list_display = ["__str__", "kind", "format", "version", "note", "created_by", "created_at", "edit_link"]
    list_filter = ["kind", "format"]
    list_select_related = ["created_by"]
    change_form_template = "admin/documents/template_change_form.html"

    @admin.display(description="")
    def edit_link(self, obj):
        url = reverse("admin:documents_documenttemplate_add") + f"?kind={obj.kind}&format={obj.format}"
        return format_html('<a href="{}">Edit as a new version</a>', url)

    def get_changeform_initial_data(self, request):
        kind = request.GET.get("kind", Kind.QUOTE)
        fmt = request.GET.get("format", Format.PDF)
        if kind not in Kind.values or fmt not in services.template_formats(kind):
            kind, fmt = Kind.QUOTE, Format.PDF
        return {"kind": kind, "format": fmt, "body": services.template_in_use(kind, fmt).body}

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST" and "_preview" in request.POST:
            form = self.get_form(request)(request.POST, request.FILES)
            if form.is_valid() and getattr(form, "preview", None):
                fmt = form.cleaned_data["format"]
                response = HttpResponse(form.preview, content_type=MIME[fmt])
                response["Content-Disposition"] = (f'{"inline" if fmt == Format.PDF else "attachment"}; '
                                                   f'filename="preview-{form.cleaned_data["kind"]}.{fmt}"')
                return response
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            saved = services.template_save(user=request.user, kind=data["kind"], fmt=data["format"],
                                           body=data.get("body") or "", data=data.get("data") or b"",
                                           note=data.get("note") or "")
        except TemplateRefused as refusal:  # checked in the form already; a race with another save lands here
            messages.error(request, refusal.message)
            raise
        obj.pk, obj.version = saved.pk, saved.version


@admin.register(Document)
class DocumentAdmin(ReadOnlyModelAdmin):
    list_display = ["__str__", "kind", "format", "version", "state", "origin", "opportunity", "created_at",
                    "short_hash"]
    list_filter = ["kind", "format", "state", "origin"]
    list_select_related = ["opportunity__account"]
    search_fields = ["filename", "sha256"]
    show_full_result_count = False
