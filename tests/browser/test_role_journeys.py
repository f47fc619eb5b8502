"""Each role's journey in a real browser: from its home, by clicking only (links, then the browser's Back), to every
page its work reaches and every act those pages offer it. On every page: axe-core finds no WCAG 2.1 A/AA violation,
the page is no wider than the window at 1280 px and at 390 px (a phone), and a screenshot at each width is kept in
test-artifacts/journeys/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "journeys"
WIDTHS = (1280, 390)
MAX_PAGES = 30  # per role: the home, the pages its queues and menu lead to, and the records those link to
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FOLLOW = re.compile(r"^/(deals|opportunities|ps-opportunities|roms|approvals|quotes|sows|projects|invoices|"
                    r"collections|time|calculator|dashboards|start|inbox|tokens|webhooks|imports)/")

# What each role reaches from its home with the demo's deals: the acts it is offered on the way (a label, as its
# button or form says it). Roles that only oversee (the controller, the VPs) reach their pages without acts.
ACTS = {
    "sal": {"Name the deal team", "Move stage", "Build the quote", "Send the sign-off document",
            "Make a new ROM summary"},
    "sa": set(),
    "tam": {"Send the sign-off document"},
    "psmanager": {"Approve", "Reject", "Needs discovery", "Close project", "Add change order"},
    "pse": {"Log time", "Report progress", "Ask the customer to accept completion", "Start the financial wrap-up"},
    "finance": {"Record payment", "Send reminder", "Send to the customer"},
    "admin": {"Move stage"},
    "dircs": {"Approve", "Reject", "Needs discovery"},
    "controller": set(),
    "ta": set(),
    "dirps": set(),
    "vpsales": set(),
    "vpgs": set(),
}


@pytest.fixture(scope="module", autouse=True)
def fresh_shots():
    """This run's pictures only: those of an earlier run (other page numbers, other names) are removed first."""
    import shutil

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


class Journey:
    def __init__(self, person, role: str):
        self.person, self.page, self.role = person, person.page, role
        self.axe = _axe_source()
        self.visited: list[str] = []
        self.seen: set[str] = set()
        self.acts: set[str] = set()
        self.problems: list[str] = []

    def check(self) -> None:
        """The page now shown: its acts, axe-core, its width at each size, a screenshot at each."""
        page = self.page
        path = page.url.split("//", 1)[1].split("/", 1)[1]
        path = "/" + path
        self.visited.append(path)
        self.seen.add(path.split("?")[0])
        self.acts |= {t.strip() for t in page.locator(
            ".acts summary, .acts form > button, .acts p.blocked button").all_inner_texts()} - {""}
        for box in page.locator("details").all():  # what a click would open is checked too
            box.evaluate("e => e.open = true")
        page.evaluate(self.axe)
        found = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                              ".violations.map(v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).join(', '))",
                              WCAG)
        self.problems += [f"{path}: {v}" for v in found]
        # Named by the page's heading ("psmanager-05-time-to-approve-390.png"), which reads the same every run.
        heading = page.locator("h1").first.inner_text() if page.locator("h1").count() else path
        name = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")[:60] or "page"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                self.problems.append(f"{path}: {wide} px wide in a {width} px window")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{self.role}-{len(self.visited):02d}-{name}-{width}.png"),
                            full_page=True)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})

    def links(self, *, menu: bool) -> list[str]:
        """The links to follow from here: the page's own first (its queue rows, its records), then the menu's."""
        hrefs = self.page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
        if menu:
            hrefs += self.page.eval_on_selector_all("header nav a[href]",
                                                    "els => els.map(e => e.getAttribute('href'))")
        wanted = [h for h in dict.fromkeys(hrefs)
                  if FOLLOW.match(h) and "page=" not in h and "sort=" not in h and "/export." not in h]
        # Round robin across kinds of page (deals, projects, quotes...), so a long queue of one kind does not use up
        # the journey before the others are seen.
        kinds: dict[str, list[str]] = {}
        for href in wanted:
            kinds.setdefault(href.split("/")[1], []).append(href)
        rounds = max((len(group) for group in kinds.values()), default=0)
        return [group[i] for i in range(rounds) for group in kinds.values() if i < len(group)]

    def walk(self, depth: int) -> None:
        """Follow each new link from here by clicking it, check the page, go deeper, then go Back."""
        for href in self.links(menu=depth == 2):
            if len(self.visited) >= MAX_PAGES:
                return
            if href.split("?")[0] in self.seen:  # one visit per page, whatever it is asked to show
                continue
            link = self.page.locator(f'a[href="{href}"]').first
            if not link.is_visible():
                continue
            with self.page.expect_navigation():
                link.click()
            self.check()
            if depth > 1:
                self.walk(depth - 1)
            with self.page.expect_navigation():
                self.page.go_back()


@pytest.mark.parametrize("role", list(ACTS))
def test_each_role_reaches_its_work_by_clicking_and_every_page_passes(visit, role):
    person = visit(f"journey-{role}").login(role)
    journey = Journey(person, role)
    journey.check()  # the home
    journey.walk(depth=2)
    assert len(journey.visited) >= 4, journey.visited
    assert not journey.problems, "\n".join(journey.problems)
    missing = ACTS[role] - journey.acts
    assert not missing, f"{role} never reached {missing}; offered: {sorted(journey.acts)}; pages: {journey.visited}"
    assert not [e for e in person.console_errors if "Content Security Policy" in e], person.console_errors


def test_the_customers_pages_pass_on_a_phone(visit):
    """The customer's link pages (quote and SOW), by the links the demo's sends would e-mail."""
    from django.db import transaction

    from psops.links.services import link_issue
    from psops.sales.models import Quote, Sow

    paths = []
    with transaction.atomic():
        for record, purpose in ((Quote.objects.get(state="sent"), "quote"),
                                (Sow.objects.filter(state="sent").first(), "sow")):
            contact = record.ps_opportunity.parent.account.contacts.first()
            url = link_issue(subject=record, purpose=purpose, contact=contact, email_to=contact.email, text="Hello")
            paths.append("/c/" + url.split("/c/", 1)[1])
    customer = visit("journey-customer")
    journey = Journey(customer, "customer")
    for path in paths:
        customer.go(path)
        journey.check()
    assert not journey.problems, "\n".join(journey.problems)
