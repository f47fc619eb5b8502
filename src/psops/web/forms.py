from django import forms

from psops.activity.models import Message


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           help_text="Type @username to notify someone.")
    kind = forms.ChoiceField(label="Kind", choices=Message.Kind.choices, required=False)
    # A message id: bounded, so a forged huge number is a form error rather than a database overflow.
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
