from django.db import models


class Segment(models.TextChoices):
    LARGE = "large", "Large"
    PUBSEC = "pubsec", "PubSec"
    MID_MARKET = "mid-market", "Mid-Market"
    SMB = "smb", "SMB"


# (warn after, close after) days of inactivity in 1-Discovery or 2-Scoping, by segment.
INACTIVITY_DAYS = {
    Segment.LARGE: (45, 90),
    Segment.PUBSEC: (45, 90),
    Segment.MID_MARKET: (21, 45),
    Segment.SMB: (7, 15),
}


class Stage(models.TextChoices):
    PENDING_ACCEPTANCE = "0-pending-acceptance", "0-Pending Acceptance"
    DISCOVERY = "1-discovery", "1-Discovery"
    SCOPING = "2-scoping", "2-Scoping"
    TECHNICAL_EVALUATION = "3-technical-evaluation", "3-Technical Evaluation"
    PROPOSAL = "4-proposal", "4-Proposal"
    NEGOTIATING = "5-negotiating", "5-Negotiating"
    AWAITING_SIGNATURE = "6-awaiting-signature", "6-Awaiting Signature"
    CLOSING = "7-closing", "7-Closing"
    CLOSED_WON = "closed-won", "Closed Won"
    CLOSED_LOST = "8-closed-lost", "8-Closed Lost"
    UNQUALIFIED = "9-unqualified", "9-Unqualified"
    DUPLICATE = "10-duplicate", "10-Duplicate"


OPEN_STAGES = [
    Stage.PENDING_ACCEPTANCE, Stage.DISCOVERY, Stage.SCOPING, Stage.TECHNICAL_EVALUATION, Stage.PROPOSAL,
    Stage.NEGOTIATING, Stage.AWAITING_SIGNATURE, Stage.CLOSING,
]
CLOSED_STAGES = [Stage.CLOSED_WON, Stage.CLOSED_LOST, Stage.UNQUALIFIED, Stage.DUPLICATE]
INACTIVITY_STAGES = [Stage.DISCOVERY, Stage.SCOPING]
# A deal in one of these is dead: none of its PS opportunities moves on (Closed Won is alive: PS may continue).
DEAD_STAGES = [Stage.CLOSED_LOST, Stage.UNQUALIFIED, Stage.DUPLICATE]


class PSStage(models.TextChoices):
    """The PS opportunity follows the process steps."""

    ROM_APPROVAL = "rom-approval", "ROM approval"  # steps 3-7
    APPROVED = "approved", "ROM approved"  # step 6 done
    QUOTED = "quoted", "Quoted"  # step 8
    QUOTE_ACCEPTED = "quote-accepted", "Quote accepted"  # step 9 starts
    SOW_OUT = "sow-out", "SOW out for signature"  # step 9
    SOW_SIGNED = "sow-signed", "SOW signed"  # step 10 may follow
    CLOSED_WON = "closed-won", "Closed Won"
    CLOSED_LOST = "closed-lost", "Closed Lost"


PS_OPEN_STAGES = [PSStage.ROM_APPROVAL, PSStage.APPROVED, PSStage.QUOTED, PSStage.QUOTE_ACCEPTED, PSStage.SOW_OUT,
                  PSStage.SOW_SIGNED]


class LossReason(models.TextChoices):
    BUDGET = "budget", "Budget"
    SCHEDULING = "scheduling", "Scheduling"
    NO_SERVICE_FIT = "no-service-fit", "No service fit"
    OTHER = "other", "Other"
