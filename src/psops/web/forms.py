from django import forms

from psops.activity.models import Message


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           help_text="Type @username to notify someone.")
    kind = forms.ChoiceField(label="Kind", choices=Message.Kind.choices, required=False)
    # A message id: bounded, so a forged huge number is a form error rather than a database overflow.
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)


def people_in(role: str):
    """The active people who hold `role`, by username: what a form offers to pick one of them."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(groups__name=role, is_active=True).order_by("username")


class PersonField(forms.ModelChoiceField):
    """One person among the active holders of a role (read when the form is made, so a new hire is offered at once)."""

    def __init__(self, role: str, **kwargs):
        from psops.core.formfields import QuickSelect

        super().__init__(queryset=people_in(role), widget=QuickSelect, **kwargs)
