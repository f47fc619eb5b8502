"""A mention notifies only someone who sees the deal (decision 0008): the text of a deal a rep may not open never
reaches their inbox or e-mail, and the poster is told who was not notified."""

import pytest
from django.core import mail

from psops.activity.models import Notification
from psops.activity.services import message_post, thread_for
from tests.factories import make_deal

pytestmark = pytest.mark.django_db


def test_a_mention_reaches_only_those_who_see_the_deal(people, client):
    _, _, deal = make_deal(people, name="Secret Harbour Ltd")  # owned by sal; sal2 is another rep
    thread = thread_for(deal)
    posted = message_post(user=people["sa"], thread=thread, body="Pricing of Secret Harbour is agreed @sal2 @pse @sal")
    told = set(Notification.objects.filter(kind="mention").values_list("recipient__username", flat=True))
    assert told == {"pse", "sal"}
    assert set(posted.mentions.values_list("username", flat=True)) == {"pse", "sal"}
    assert [u.username for u in posted.unseen_mentions] == ["sal2"]
    assert not any("sal2@" in address for m in mail.outbox for address in m.to)
    # The manager of the owner sees the deal, and is told.
    people["sal"].manager = people["sal2"]
    people["sal"].save(update_fields=["manager"])
    message_post(user=people["sa"], thread=thread_for(deal), body="Now you see it @sal2")
    assert Notification.objects.filter(kind="mention", recipient=people["sal2"]).count() == 1
    # The page says who was not notified.
    client.force_login(people["sa"])
    response = client.post(f"/r/opportunity/{deal.pk}/message/", {"body": "And @salesmgr too"}, follow=True)
    assert "Not notified, as they do not see this deal: @salesmgr." in response.content.decode()
