import json

from django import forms
from django.contrib import admin

from psops.core.admin import ReadOnlyInline, ReadOnlyModelAdmin
from psops.core.errors import ApplicationError

from . import policy
from .models import ApprovalPolicy, ApprovalRequest, ApprovalRequirement, Decision
from .services import policy_publish


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ApprovalPolicy
        fields = ["rules", "note"]

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        try:
            return policy.validate(rules)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """A policy is never edited: adding one publishes the next version, which becomes the active one."""

    form = PolicyForm
    list_display = ["version", "is_active", "note", "created_at"]

    def get_changeform_initial_data(self, request):
        active = ApprovalPolicy.objects.filter(is_active=True).first()
        return {"rules": json.dumps(active.rules if active else policy.DEFAULT_RULES, indent=2)}

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        published = policy_publish(user=request.user, rules=form.cleaned_data["rules"], note=obj.note)
        obj.pk, obj.version, obj.is_active = published.pk, published.version, True


class RequirementInline(ReadOnlyInline):
    model = ApprovalRequirement
    fields = ["code", "label", "approvers", "mode", "approved_roles", "satisfied"]


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ["approver", "outcome", "requirements", "comment", "decided_at"]
    readonly_fields = ["decided_at"]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyModelAdmin):
    list_display = ["title", "kind", "state", "policy", "submitted_by", "submitted_at", "decided_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["policy", "submitted_by"]
    inlines = [RequirementInline, DecisionInline]
