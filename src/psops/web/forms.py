from django import forms

from psops.activity.models import Message


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           help_text="Type @username to notify someone.")
    kind = forms.ChoiceField(label="Kind", choices=Message.Kind.choices, required=False)
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)
