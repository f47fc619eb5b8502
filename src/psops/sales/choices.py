from django.db import models


class BillingTerms(models.TextChoices):
    FULL_ON_SIGNATURE = "full-on-signature", "100% on SOW signature (standard)"
    HALF_AND_HALF = "50-50", "50% up front, 50% on completion"
    MILESTONES = "milestones", "Per milestone, on its acceptance"
    ON_COMPLETION = "on-completion", "100% on completion"
    TIME_AND_MATERIALS = "time-and-materials", "Time and materials, monthly from approved time"


STANDARD_TERMS = BillingTerms.FULL_ON_SIGNATURE
DEFAULT_NET_DAYS = 30
QUOTE_TERMS = (
    "Professional services are delivered remotely unless the quote says otherwise; travel for on-site work is billed "
    "separately at cost. Prices exclude taxes. The statement of work that follows this quote defines scope, "
    "deliverables, assumptions and acceptance. Payment is due net 30 days from invoice."
)
