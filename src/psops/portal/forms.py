"""What the customer types on their link's page. The services check the same rules again; the forms only give a
clear message beside the field."""

from django import forms


class ShownForm(forms.Form):
    # The SHA-256 of the document the page offered: the answer is refused if the document changed since.
    document_sha256 = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


class SignForm(forms.Form):
    name = forms.CharField(label="Your full name", max_length=200, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    title = forms.CharField(label="Your title", max_length=200, strip=True,
                            widget=forms.TextInput(attrs={"autocomplete": "organization-title"}))


class SignOffForm(SignForm, ShownForm):
    pass


class SowSignForm(SignForm, ShownForm):
    # The fingerprint of the text shown on the page: the signature is refused if the SOW changed since.
    content_hash = forms.CharField(max_length=64, min_length=64, widget=forms.HiddenInput)


class DeclineForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", max_length=500, required=False, strip=True,
                             widget=forms.Textarea(attrs={"rows": 3}))


class ChangesForm(ShownForm):
    changes = forms.CharField(label="The changes you need", max_length=2000, strip=True,
                              widget=forms.Textarea(attrs={"rows": 5}))


class NotCompleteForm(forms.Form):
    reason = forms.CharField(label="What is not complete", max_length=500, strip=True,
                             widget=forms.Textarea(attrs={"rows": 4}))
