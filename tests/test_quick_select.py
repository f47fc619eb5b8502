"""QuickSelect writes the same select Django's Select does (the same options, values, selection, attributes and
escaping), only faster: compared as parsed HTML. Option groups, which no psops form uses, are written flat."""

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test.html import parse_html

from psops.core.formfields import QuickSelect

pytestmark = pytest.mark.django_db

CHOICES = [("", "Choose"), ("a", "Alpha & <Omega>"), ("b", 'Bee "quoted"'), ("c", "Sea"), (3, "Three")]


def both(field: forms.Field, value, attrs=None) -> tuple:
    quick = QuickSelect(choices=field.choices) if not isinstance(field, forms.ModelChoiceField) else QuickSelect()
    plain = forms.Select(choices=field.choices) if not isinstance(field, forms.ModelChoiceField) else forms.Select()
    for widget in (quick, plain):
        widget.choices = field.choices
    return (parse_html(quick.render("pick", value, attrs)), parse_html(plain.render("pick", value, attrs)),
            quick.render("pick", value, attrs))


@pytest.mark.parametrize("value", [None, "", "a", "c", 3, "3", "missing"])
def test_plain_choices(value):
    quick, plain, html = both(forms.ChoiceField(choices=CHOICES), value, {"id": "id_pick", "required": True})
    assert quick == plain
    assert "Alpha &amp; &lt;Omega&gt;" in html and "Bee &quot;quoted&quot;" in html


def test_a_group_is_written_flat():
    html = QuickSelect(choices=[("a", "A"), ("Group", [("b", "B"), ("c", "C")])]).render("pick", "c")
    assert parse_html(html) == parse_html('<select name="pick"><option value="a">A</option><option value="b">B'
                                          '</option><option value="c" selected>C</option></select>')


def test_model_choices_and_the_chosen_one():
    users = get_user_model()
    people = [users.objects.create(username=f"u{n}", first_name="<b>Ann</b>" if n == 1 else f"P{n}")
              for n in range(3)]
    field = forms.ModelChoiceField(queryset=users.objects.order_by("pk"), empty_label="Nobody")
    for value in (None, people[1].pk, str(people[2].pk)):
        quick, plain, html = both(field, value, {"class": "wide"})
        assert quick == plain
    assert f"<option value=\"{people[2].pk}\" selected>" in html
