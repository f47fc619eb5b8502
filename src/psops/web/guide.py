"""Getting started: for each role, where its work starts and how it moves, in a few steps that link to the very
pages named. The page shows the roles the reader holds (all of them to a superuser); README.md says the same."""

from __future__ import annotations

from dataclasses import dataclass

from psops.accounts import roles


@dataclass(frozen=True)
class Step:
    text: str
    link: str = ""  # a URL name of this site ("web:deals"), or "" where the step happens on a record's page
    link_text: str = ""


@dataclass(frozen=True)
class Guide:
    role: str
    summary: str
    steps: tuple[Step, ...]


_APPROVER = (
    Step("Requests that need you appear on your home under Approvals waiting for you, the longest waiting first; the "
         "service level is 3 business days.", "web:home", "Your home"),
    Step("Open a request to see what is asked: the amount, the lines, the flags the calculator or the quote raised, "
         "and the ROM or quote it belongs to."),
    Step("Approve, reject with a reason, or (for a ROM) ask discovery questions; the requester is told at once. "
         "Nobody approves their own request.", "web:approvals", "Every approval"),
)

GUIDES: dict[str, Guide] = {g.role: g for g in (
    Guide(roles.SALES_REP, "You own the deal from first call to the customer's sign-off.", (
        Step("Start a deal: Deals › New deal. Name the account (or pick one), a first contact and the expected "
             "close date, and name the solutions architect and TAM if you know them.", "web:deal_new",
             "New deal"),
        Step("Scope it with your SA, then build a ROM in the calculator (or let the SA build it) and open it: "
             "Send for approval on the ROM's page.", "web:calculator", "Calculator"),
        Step("On the ROM's page, Create the PS opportunity: its PS amount is the ROM's value (step 4)."),
        Step("Once the ROM is approved, Build the quote on the PS opportunity's page, Submit it (a discount needs "
             "the Dir. CS) and Send to the customer (step 8)."),
        Step("When the customer has signed the SOW, Mark Closed Won on the PS opportunity (step 10): the delivery "
             "project is created and Finance invoices."),
        Step("When the customer accepts the work, your home prompts Sign-offs to send: Send the sign-off document "
             "on the project's page (step 15).", "web:home", "Your home"),
    )),
    Guide(roles.SOLUTIONS_ARCHITECT, "You scope the work with the customer and build the ROM.", (
        Step("Deals that name you as their SA are on your home under Deals you scope, with each one's next step. "
             "A sales rep names you with Name the deal team on the deal's page.", "web:home", "Your home"),
        Step("Build the ROM in the calculator: pick the deal and a template, answer the questions and watch the "
             "range; Save as ROM.", "web:calculator", "Calculator"),
        Step("Answer the discovery questions an approver asks in the deal's discussion thread, then revise the ROM "
             "(step 7)."),
    )),
    Guide(roles.TAM, "You scope where there is no SA, and may send the sign-off.", (
        Step("Deals that name you as their TAM are on your home; so are their completed projects whose sign-off "
             "waits to be sent.", "web:home", "Your home"),
        Step("Build a ROM in the calculator when the deal has no SA.", "web:calculator", "Calculator"),
        Step("Send the sign-off document on the project's page once the customer has accepted the work "
             "(step 15); the customer signs or replies through their link, and silence counts after 5 business "
             "days."),
    )),
    Guide(roles.PS_MANAGER, "You approve ROMs, review SOWs, staff and advance projects, and approve time.", (
        *_APPROVER,
        Step("Review the SOWs engineers send to review: Approve, or Return with comments."),
        Step("Projects to staff or advance are on your home with their next step: assign an engineer, kick off, "
             "start delivery, and close a project once the customer has signed off.", "web:projects",
             "Projects"),
        Step("Approve the hours engineers log, a week at a time: Time. Time-and-materials invoices bill approved "
             "time only.", "web:time", "Time"),
    )),
    Guide(roles.DIR_CS, "You approve ROMs as an alternative to the PS manager, and every discount.", (
        *_APPROVER,
        Step("SOWs to review are on your home as well."),
    )),
    Guide(roles.PS_ENGINEER, "You write the SOW, deliver the project and run the financial wrap-up.", (
        Step("Accepted quotes waiting for a SOW are on your home under SOWs to write: open one and Write the SOW "
             "(step 9), then Send to review.", "web:home", "Your home"),
        Step("Once approved, Send for signature from the SOW's page; the customer signs through their link."),
        Step("On your project's page, Log time, Report progress and, when the work is done, Ask the customer "
             "to accept completion (step 14).", "web:projects", "Your projects"),
        Step("Start the financial wrap-up on the project's page once the work is accepted, tick its items, then "
             "Finish the wrap-up."),
    )),
    Guide(roles.FINANCE, "You bill, record payments and collect.", (
        Step("Draft invoices are on your home and the Invoices list: tick them and issue them in one billing "
             "run (step 12).", "web:invoices", "Invoices"),
        Step("Record a payment on the invoice's page, or many at once from a bank file (CSV).",
             "web:payments_import", "Import a bank file"),
        Step("Collections lists every open balance by age: send reminders, record promises to pay and "
             "disputes, propose write-offs (the controller approves).", "web:collections", "Collections"),
    )),
    Guide(roles.CONTROLLER, "You oversee receivables and approve write-offs.", (
        Step("Invoices and Collections show every open balance; the dashboards age receivables on any past day.",
             "web:dashboards", "Dashboards"),
        Step("Write-offs Finance proposes wait for your decision on the invoice's page."),
    )),
    Guide(roles.ADMINISTRATOR, "You keep people, price book, calculator tables, policy, templates and calendars.", (
        Step("Your home lists the set-up and what is active; each line opens its page in Set-up.", "web:home",
             "Your home"),
        Step("Add people and give them roles (one person may hold several) in Set-up › Users."),
        Step("Moving a deal back, or reopening a closed one, is yours: Move stage on the deal's page, with a "
             "reason."),
        Step("Integrity checks that every balance and chain commitment holds.", "web:integrity", "Integrity"),
    )),
    Guide(roles.TECHNICAL_ARCHITECT, "You approve the ROMs the policy sends to a technical architect.", _APPROVER),
    Guide(roles.DIRECTOR_PS, "You approve what the policy sends to the Director of PS, such as split billing "
                             "terms on a SOW.", _APPROVER),
    Guide(roles.VP_SALES, "You approve what the policy sends to the VP of sales, and oversee the pipeline.", (
        *_APPROVER, Step("The dashboards show the pipeline, bookings and backlog.", "web:dashboards", "Dashboards"))),
    Guide(roles.VP_GLOBAL_SERVICES, "You approve what the policy sends to the VP of global services, and oversee "
                                    "delivery.", (
        *_APPROVER, Step("The dashboards show the backlog and the time each step takes.", "web:dashboards",
                         "Dashboards"))),
)}


def guides_for(held: frozenset[str]) -> list[tuple[str, Guide]]:
    """(role name as people read it, guide) for each role held, in the order of the process."""
    return [(roles.ROLES[code], GUIDES[code]) for code in roles.ROLES if code in held and code in GUIDES]
