from django.urls import path, re_path

from . import kinds  # noqa: F401  (registers the record pages and their acts)
from .records import KINDS
from .views import (
    billing,
    calculator,
    dashboards,
    deal_new,
    documents,
    home,
    imports,
    inbox,
    integrity,
    lists,
    records,
    search,
    time,
    tokens,
    webhooks,
)

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("start/", home.getting_started, name="getting_started"),
    path("search/", search.search, name="search"),
    path("deals/new/", deal_new.deal_new, name="deal_new"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read/", inbox.inbox_read, name="inbox_read"),
    path("deals/", lists.deals, name="deals"),
    path("calculator/", calculator.calculator_page, name="calculator"),
    path("approvals/", lists.approvals, name="approvals"),
    path("projects/", lists.projects, name="projects"),
    path("time/", time.time_review, name="time"),
    path("time/approve/", time.time_approve, name="time_approve"),
    path("invoices/", lists.invoices, name="invoices"),
    path("invoices/issue/", billing.invoices_issue_run, name="invoices_issue"),
    path("payments/import/", billing.payments_import_page, name="payments_import"),
    path("collections/", lists.collections, name="collections"),
    re_path(r"^(?P<name>deals|approvals|projects|invoices|collections)/export\.(?P<fmt>csv|xlsx)$", lists.export,
            name="export"),
    path("collections/remind/", lists.collections_remind, name="collections_remind"),
    path("dashboards/", dashboards.dashboards, name="dashboards"),
    path("imports/", imports.imports_page, name="imports"),
    path("imports/<int:pk>/", imports.import_page, name="import"),
    path("imports/<int:pk>/map/", imports.import_map_view, name="import_map"),
    path("imports/<int:pk>/commit/", imports.import_commit_view, name="import_commit"),
    path("imports/<int:pk>/refused-rows.csv", imports.import_errors, name="import_errors"),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/new/", webhooks.webhook_new, name="webhook_new"),
    path("webhooks/<int:pk>/", webhooks.webhook, name="webhook"),
    path("webhooks/<int:pk>/active/", webhooks.webhook_active, name="webhook_active"),
    path("webhooks/deliveries/<int:pk>/resend/", webhooks.webhook_resend, name="webhook_resend"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/new/", tokens.token_new, name="token_new"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("integrity/", integrity.integrity, name="integrity"),
    path("documents/<int:pk>/", documents.document_download, name="document"),
    path("r/<str:model_name>/<int:pk>/act/<slug:code>/", records.record_act, name="act"),
    path("r/<str:model_name>/<int:pk>/message/", records.record_message, name="message"),
]
# Each record kind gets a readable address, e.g. /opportunities/12/, named web:<model name>.
urlpatterns += [
    path(f"{kind.path}/<int:pk>/", records.record_page, {"model_name": name}, name=name)
    for name, kind in KINDS.items()
]
