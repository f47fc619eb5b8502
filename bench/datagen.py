"""Data at a real firm's size for the benchmark (docs/decisions/0010-benchmark.md).

    .venv/bin/python bench/datagen.py --scale 0.01 --reset      # on DATABASE_URL (a database named *bench*)

At SCALE=1.0: 200k opportunities, 180k PS opportunities, 100k projects, 1.0M invoices (130k open), ~810k payments
and 5.5M timeline events, with the accounts, contacts, people and roles, ROMs and their versions, approvals, quotes,
SOWs (signed ones with a signature that covers them), acceptances, wrap-ups, collections, messages, notifications and
timers these need, over three years. SCALE multiplies every count (people too, so a sales rep's book stays the size
of a real rep's book).

The database is first migrated and given the demo data the normal way (`psops migrate`, `psops demo`: price book,
calculator tables, approval policy, demo users), then the rest is planned in memory and loaded set-based into the real
tables (dbload.Loader). Every row keeps the constraints: check constraints and immutability triggers are live while
loading, foreign keys and unique indexes are built again and checked at the end. ROM versions are real calculator
results; quotes, SOWs and invoices follow from them (quote within the approved ROM, SOW price = quote total, never
billed beyond the SOW's value); a signed SOW's signature hashes the SOW as `Sow.content` reads it; each invoice's
`paid_to_date` and `open_balance` are what its payments, credit notes and approved write-offs say.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys
import time
from array import array
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

DAY = 86_400
HOUR = 3_600
SPAN_DAYS = 3 * 365
# Counts at SCALE=1.0.
SIZES = {"opportunities": 200_000, "ps_opportunities": 180_000, "projects": 100_000, "invoices": 1_000_000,
         "open_invoices": 130_000, "payments": 810_000, "events": 5_500_000}
# People per role at SCALE=1.0 (the demo user of each role is one of them), and the least there are at any scale.
PEOPLE = {"sales_rep": (400, 3), "solutions_architect": (60, 2), "tam": (40, 1), "ps_manager": (20, 2),
          "dir_cs": (5, 1), "ps_engineer": (300, 8), "finance": (15, 2), "controller": (2, 1),
          "technical_architect": (10, 1), "director_ps": (2, 1), "vp_sales": (2, 1), "vp_global_services": (2, 1)}
DEMO_OF_ROLE = {"sales_rep": "sal", "solutions_architect": "sa", "tam": "tam", "ps_manager": "psmanager",
                "dir_cs": "dircs", "ps_engineer": "pse", "finance": "finance", "controller": "controller",
                "technical_architect": "ta", "director_ps": "dirps", "vp_sales": "vpsales",
                "vp_global_services": "vpgs"}
WHALE_EVENTS = 5_000  # time logged on the one long-running project whose page the benchmark opens

FIRST = ["Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jon", "Kara", "Liam", "Mina",
         "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wade", "Xena", "Yuri", "Zoe",
         "Aiko", "Bruno", "Chloe", "Diego", "Erik", "Fatima", "Gabe", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Marco",
         "Nadia", "Omar", "Priya", "Raj", "Sofia", "Tomas", "Uma", "Victor", "Wen", "Yasmin", "Zane"]
LAST = ["Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan", "Lopez",
        "Murphy", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber",
        "Xu", "Young", "Zimmer", "Alvarez", "Bauer", "Costa", "Dubois", "Eriksen", "Ferreira", "Gomez", "Haas",
        "Ibrahim", "Jovanovic", "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrov", "Ramos", "Schmidt",
        "Torres", "Urban", "Volkov", "Walsh", "Yilmaz", "Zhang"]
ACC_A = ["Apex", "Blue", "Cedar", "Delta", "Echo", "Falcon", "Granite", "Harbor", "Iron", "Juniper", "Keystone",
         "Lumen", "Maple", "Nova", "Orion", "Pioneer", "Quantum", "River", "Summit", "Titan", "Unity", "Vertex",
         "Willow", "Zenith", "Atlas", "Beacon", "Cobalt", "Dune", "Ember", "Fjord", "Glacier", "Horizon", "Indigo",
         "Jade", "Kestrel", "Lotus", "Meridian", "Nimbus", "Onyx", "Polar", "Quartz", "Radiant", "Sierra", "Terra",
         "Ultra", "Vector", "Wave", "Xenon", "Yarrow", "Zephyr", "Aurora", "Boreal", "Crimson", "Dynamo",
         "Evergreen", "Frontier", "Golden", "Helix", "Ionic", "Jetstream"]
ACC_B = ["Data", "Cloud", "Logic", "Systems", "Networks", "Labs", "Analytics", "Health", "Energy", "Foods",
         "Motors", "Capital", "Media", "Robotics", "Pharma", "Retail", "Logistics", "Software", "Security",
         "Telecom", "Biotech", "Financial", "Insurance", "Airlines", "Foundry", "Mining", "Textiles", "Marine",
         "Solar", "Water", "Grid", "Payments", "Devices", "Semiconductors", "Games", "Learning", "Travel", "Realty",
         "Agri", "Steel", "Chemicals", "Aerospace", "Defense", "Rail", "Freight", "Studios", "Publishing", "Clinics",
         "Dental", "Optics", "Audio", "Vision", "Fabrics", "Tools", "Plastics", "Paper", "Glass", "Metals", "Tech",
         "Works"]
ACC_C = ["Inc", "LLC", "Ltd", "Group", "Corp", "GmbH", "SA", "AG", "plc", "Holdings", "Partners", "Co"]
DEALS = ["platform", "expansion", "renewal", "upgrade", "DevSecOps rollout", "CI/CD modernization", "SaaS migration",
         "Premium upsell", "Ultimate upgrade", "security program", "enterprise agreement", "new business unit"]
TITLES = ["Director of Engineering", "VP Engineering", "Head of Platform", "CTO", "Engineering Manager",
          "Procurement Lead", "DevOps Lead", "CIO"]
COMMENTS = ["Call with the customer went well; they want to start next quarter.",
            "Customer asked for references in their industry.",
            "Legal review of the MSA is under way on their side.",
            "Budget is confirmed for this fiscal year.",
            "They would like remote delivery with one on-site kick-off.",
            "Security questionnaire returned to the customer.",
            "Scope agreed on the last call; waiting for their procurement.",
            "Customer is comparing with a partner's offer."]
DISCOVERY = ["Is Geo really needed at go-live, or in a second phase?",
             "How many repositories are over 5 GB? The estimate assumes none.",
             "Which integrations are in scope: Jira only, or Jenkins as well?",
             "Will the customer's team attend the workshops on site or remotely?"]
TERMS_WEIGHTS = [("full-on-signature", 22), ("50-50", 8), ("milestones", 6), ("on-completion", 4),
                 ("time-and-materials", 60)]
LOSS = ["budget", "scheduling", "no-service-fit", "other"]
PS_OPEN_ORDER = ["rom-approval", "approved", "quoted", "quote-accepted", "sow-out", "sow-signed"]
STAGE_LABEL = {"rom-approval": "ROM approval", "approved": "ROM approved", "quoted": "Quoted",
               "quote-accepted": "Quote accepted", "sow-out": "SOW out for signature", "sow-signed": "SOW signed",
               "closed-won": "Closed Won", "closed-lost": "Closed Lost"}
OPP_LABEL = {"0-pending-acceptance": "0-Pending Acceptance", "1-discovery": "1-Discovery", "2-scoping": "2-Scoping",
             "3-technical-evaluation": "3-Technical Evaluation", "4-proposal": "4-Proposal",
             "5-negotiating": "5-Negotiating", "6-awaiting-signature": "6-Awaiting Signature",
             "7-closing": "7-Closing", "closed-won": "Closed Won", "8-closed-lost": "8-Closed Lost",
             "9-unqualified": "9-Unqualified", "10-duplicate": "10-Duplicate"}
INACTIVITY = {"large": (45, 90), "pubsec": (45, 90), "mid-market": (21, 45), "smb": (7, 15)}
HOURLY_RATE_C = 25_000
# Invoice kinds (billing keys) and states, kept as small integers in the plan's arrays.
K_SIGNATURE, K_COMPLETION, K_MILESTONE, K_TIME, K_CHANGE = range(5)
S_DRAFT, S_ISSUED, S_PAID, S_VOID = range(4)
NEVER = 10**9


def setup_django() -> None:
    """Settings for a generator run on its own (bench.py sets its own before calling in)."""
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
    os.environ.setdefault("PSOPS_EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    os.environ.setdefault("PSOPS_DEBUG", "1")
    import django

    django.setup()


# --- The database: a bench database only, migrated and given the demo data the normal way --------------------------


def database_label() -> str:
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    return f"{connection.vendor} {name}"


def may_reset() -> bool:
    """Only a database whose name says it is for the benchmark is ever emptied."""
    from django.db import connection

    return "bench" in Path(str(connection.settings_dict["NAME"])).name


def reset_database(say=print) -> None:
    from django.db import connection

    if not may_reset():
        raise SystemExit(f"Refusing to empty {database_label()}: the benchmark only empties a database whose name "
                         "contains 'bench' (e.g. postgres://.../psops_bench or /tmp/x/bench.sqlite3).")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE")
            cur.execute("CREATE SCHEMA public")
    else:
        name = str(connection.settings_dict["NAME"])
        connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(name + suffix):
                os.remove(name + suffix)
    say(f"emptied {database_label()}")


def prepare_database(say=print) -> None:
    """`psops migrate` and `psops demo`, as `make run` does: the price book, calculator tables, approval policy and
    the demo users (one per role) come from there, not from here."""
    from django.core.management import call_command

    start = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    from psops.workflow.demo import load_demo

    load_demo()
    say(f"migrated and loaded the demo data in {time.perf_counter() - start:.1f} s")


def generated_scale() -> float | None:
    """The SCALE a database was generated at (None: not generated)."""
    from psops.accounts.models import User
    from psops.crm.models import Opportunity

    if not User.objects.filter(username="rep0001").exists():
        return None
    return round(Opportunity.objects.count() / SIZES["opportunities"], 4)


# --- Helpers ---------------------------------------------------------------------------------------------------------


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def shown(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def half_up(cents_times_100: int) -> int:
    """Round a value held in hundredths of a cent to the cent, half up (non-negative values)."""
    return (cents_times_100 + 50) // 100


def weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    total = sum(w for _, w in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


class Obj:
    """A planned record; its attributes are set as the plan goes."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Generator:
    def __init__(self, scale: float, seed: int = 1, say=print):
        from django.utils import timezone

        self.scale = scale
        self.say = say
        self.seed = seed
        self.rng = random.Random(seed)
        now = timezone.now().astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.now = now
        self.base = dt.datetime(now.year, now.month, now.day) - dt.timedelta(days=SPAN_DAYS + 40)
        self.now_t = int((now - self.base).total_seconds())
        self.today_d = self.now_t // DAY
        horizon = self.today_d + 4000
        self.days = [(self.base + dt.timedelta(days=d)).date().isoformat() for d in range(horizon)]
        self.tod = [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]
        self.n = {k: max(1, round(v * scale)) for k, v in SIZES.items()}
        self.next_ids: dict[str, int] = {}

    # --- time: whole seconds since self.base --------------------------------------------------------------------------

    def ts(self, t: int) -> str:
        return self.days[t // DAY] + self.tod[t % DAY]

    def ds(self, d: int) -> str:
        return self.days[d]

    def business_days(self, started: int, ended: int) -> int:
        """Business days between the days of two moments (weekends only: the generated firm keeps no holidays)."""
        from psops.core.business_days import Calendar

        calendar = self.__dict__.setdefault("_calendar", Calendar(country="US"))
        first = (self.base + dt.timedelta(days=started // DAY)).date()
        last = (self.base + dt.timedelta(days=ended // DAY)).date()
        return calendar.business_days_between(first, last)

    def work_t(self, day: int) -> int:
        """A moment in working hours on `day`."""
        return day * DAY + 8 * HOUR + self.rng.randrange(10 * HOUR)

    def days_(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * DAY)

    def month_start_day(self, year: int, month: int) -> int:
        return (dt.date(year, month, 1) - self.base.date()).days

    def year_month(self, day: int) -> tuple[int, int]:
        d = self.base.date() + dt.timedelta(days=day)
        return d.year, d.month

    # --- ids ------------------------------------------------------------------------------------------------------

    def ids(self, model, count: int) -> range:
        table = model._meta.db_table
        if table not in self.next_ids:
            from django.db.models import Max

            self.next_ids[table] = (model._base_manager.aggregate(m=Max("pk"))["m"] or 0) + 1
        start = self.next_ids[table]
        self.next_ids[table] = start + count
        return range(start, start + count)

    def new_id(self, model) -> int:
        return self.ids(model, 1)[0]

    # --- people -------------------------------------------------------------------------------------------------------

    def people(self) -> None:
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import Group

        from psops.accounts.models import User

        rng = self.rng
        groups = {g.name: g.pk for g in Group.objects.all()}
        self.username = {u.pk: u.username for u in User.objects.all()}
        self.name = {u.pk: (u.get_full_name() or u.username) for u in User.objects.all()}
        demo = {u.username: u.pk for u in User.objects.filter(username__in=DEMO_OF_ROLE.values())}
        self.demo = demo
        wanted = {role: max(least, round(count * self.scale)) for role, (count, least) in PEOPLE.items()}
        ids = iter(self.ids(User, sum(w - 1 for w in wanted.values())))
        prefix = {"sales_rep": "rep", "solutions_architect": "sa", "tam": "tam", "ps_manager": "psm", "dir_cs": "dcs",
                  "ps_engineer": "pse", "finance": "fin", "controller": "ctl", "technical_architect": "ta",
                  "director_ps": "dps", "vp_sales": "vps", "vp_global_services": "vgs"}
        password = make_password(None)
        joined = self.base.replace(tzinfo=dt.UTC)
        users, memberships = [], []
        self.pools: dict[str, list[int]] = {}
        for role, want in wanted.items():
            pool = [demo[DEMO_OF_ROLE[role]]]
            for k in range(1, want):
                uid = next(ids)
                first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
                username = f"{prefix[role]}{k:04d}"
                manager = None
                if role == "sales_rep" and k % 8 != 1:
                    manager = pool[1 + (k - 1) // 8 * 8] if len(pool) > 1 + (k - 1) // 8 * 8 else None
                users.append(User(id=uid, username=username, first_name=first, last_name=last, password=password,
                                  email=f"{username}@psops.example", title=role.replace("_", " ").capitalize(),
                                  is_active=True, date_joined=joined, manager_id=manager))
                memberships.append(User.groups.through(user_id=uid, group_id=groups[role]))
                pool.append(uid)
                self.username[uid] = username
                self.name[uid] = f"{first} {last}"
            self.pools[role] = pool
        User.objects.bulk_create(users, batch_size=2000)
        User.groups.through.objects.bulk_create(memberships, batch_size=2000)
        if len(self.pools["sales_rep"]) > 1:  # the demo rep reports to a sales manager, like everyone
            User.objects.filter(pk=demo["sal"]).update(manager_id=self.pools["sales_rep"][1])
        self.say(f"  {len(users)} people added to the {len(demo)} demo users, "
                 f"{len(self.pools['sales_rep'])} sales reps")

    def pick(self, role: str) -> int:
        pool = self.pools[role]
        return pool[self.rng.randrange(len(pool))]

    # --- ROMs the calculator really priced ---------------------------------------------------------------------------

    def catalogue(self) -> None:
        from psops.core.errors import ApplicationError
        from psops.estimating import calculator

        tables = calculator.tables_from_db()
        rng = random.Random(self.seed + 7)
        skus = sorted(s for s in tables.price_book.items if s != "SRV-PERSEAT-R") if tables.price_book else []
        found: dict[str, list[Obj]] = {"price-book": [], "sm-to-saas": [], "implementation": []}
        tries = 0
        while min(len(v) for v in found.values()) < 40 and tries < 5000:
            tries += 1
            template = ("price-book", "sm-to-saas", "implementation")[tries % 3]
            if template == "price-book":
                answers: dict[str, int] = {s: rng.randint(1, 3) for s in rng.sample(skus, rng.randint(1, 3))}
                if rng.random() < 0.4:
                    answers["attendees"] = rng.randint(5, 30)
            elif template == "sm-to-saas":
                answers = {"users": rng.choice([60, 150, 300, 450, 800, 1500, 2500, 4000]),
                           "projects": rng.choice([100, 400, 900, 2000, 4500, 9000]),
                           "large_repos": rng.choice([0, 0, 0, 2, 5, 12, 25])}
            else:
                answers = {"instances": rng.randint(1, 3), "ha_geo": rng.randint(0, 1),
                           "integrations": rng.randint(0, 4), "ci_templates": rng.randint(0, 3),
                           "runner_fleets": rng.randint(0, 2), "workshops": rng.randint(0, 3)}
            try:
                estimate = calculator.calculate(template, answers, tables)
            except ApplicationError:
                continue
            if estimate.high is None or estimate.low is None or len(found[template]) >= 40:
                continue
            data = estimate.as_dict()
            if any(line["high"] is None for line in data["lines"]):
                continue
            lines = [(line["code"], line["description"], int(line["quantity"]) or 1, int(Decimal(line["high"]) * 100))
                     for line in data["lines"]]
            high = int(estimate.high * 100)
            if not lines or sum(line[3] for line in lines) != high or high > 900_000_000_00:
                continue
            found[template].append(Obj(
                template=template, answers=json.dumps({k: str(v) for k, v in answers.items()}),
                lines_json=json.dumps(data["lines"]), flags=json.dumps(data["flags"]),
                assumptions="\n".join(estimate.assumptions), low=int(estimate.low * 100), high=high,
                tables=json.dumps(estimate.table_versions), quote_lines=lines, tech=high > 5_000_000))
        self.catalog = found
        self.say(f"  {sum(len(v) for v in found.values())} ROM estimates priced by the calculator to draw from")

    def estimate(self, template: str) -> Obj:
        options = self.catalog[template]
        return options[self.rng.randrange(len(options))]

    # --- accounts, deals and their chains ---------------------------------------------------------------------------

    def plan_accounts(self) -> None:
        from psops.crm.models import Account, Contact

        rng = self.rng
        n_acc = max(20, self.n["opportunities"] // 5)
        self.accounts = []
        for k, aid in enumerate(self.ids(Account, n_acc)):
            a, b, c = k % 60, (k // 60) % 60, (k // 3600) % 12
            name = f"{ACC_A[a]} {ACC_B[b]} {ACC_C[c]}" + (f" {k // 43200 + 1}" if k >= 43200 else "")
            domain = f"{ACC_A[a]}{ACC_B[b]}{k}".lower()
            segment = ("large", "large", "large", "pubsec", "pubsec", "mid-market", "mid-market", "mid-market",
                       "mid-market", "smb", "smb", "smb", "smb")[k % 13]
            contacts = []
            for j, cid in enumerate(self.ids(Contact, 3)):
                first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
                contacts.append(Obj(id=cid, name=f"{first} {last}", email=f"{first}.{last}{j}@{domain}.example".lower(),
                                    title=TITLES[rng.randrange(len(TITLES))]))
            self.accounts.append(Obj(id=aid, name=name, short=f"{ACC_A[a]} {ACC_B[b]}", owner=self.pick("sales_rep"),
                                     segment=segment, contacts=contacts, created_t=self.days_(0, 40)))

    def plan_chains(self) -> None:
        from psops.approvals.models import ApprovalRequest, Decision
        from psops.crm.models import Opportunity, PSOpportunity
        from psops.estimating.models import Rom, RomVersion
        from psops.sales.models import Quote, QuoteLine, Sow, SowMilestone, SowRevision, SowSignature

        rng = self.rng
        n_opp, n_ps = self.n["opportunities"], self.n["ps_opportunities"]
        zeros = round(0.175 * n_opp)
        twos = max(0, n_ps - (n_opp - zeros))
        if twos > n_opp - zeros:
            twos, zeros = n_opp - zeros, 0
        special = rng.sample(range(n_opp), zeros + twos)
        count = [1] * n_opp
        for i in special[:zeros]:
            count[i] = 0
        for i in special[zeros:]:
            count[i] = 2
        self.opps: list[Obj] = []
        self.pss: list[Obj] = []
        self.roms: list[Obj] = []
        span = SPAN_DAYS * DAY
        for i, oid in enumerate(self.ids(Opportunity, n_opp)):
            acc = self.accounts[rng.randrange(len(self.accounts))]
            created = 40 * DAY + int(span * (i + rng.random()) / n_opp) - rng.randrange(HOUR)
            owner = acc.owner if rng.random() < 0.85 else self.pick("sales_rep")
            opp = Obj(id=oid, i=i, acc=acc, owner=owner, segment=acc.segment, created_t=created,
                      name=f"{acc.short} {DEALS[rng.randrange(len(DEALS))]}", currency="USD",
                      amount=rng.randrange(10_000, 2_000_000) * 100, close_d=created // DAY + rng.randrange(30, 150),
                      ps=[], rom=None, warned_t=None)
            self.opps.append(opp)
            for k in range(count[i]):
                first = opp.ps[0].created_t if opp.ps else None
                start = (created + self.days_(2, 20)) if first is None else first + self.days_(30, 240)
                ps = Obj(id=self.new_id(PSOpportunity), opp=opp, k=k, created_t=min(start, self.now_t - HOUR),
                         name=f"PS for {opp.name}" + (" (phase 2)" if k else ""))
                opp.ps.append(ps)
                self.pss.append(ps)
                self.chain_times(ps)
        # Which PS opportunities are won: as many as there are projects, among those whose chain ends before today.
        done = [ps for ps in self.pss if ps.won_t < self.now_t - DAY]
        n_won = min(self.n["projects"], len(done))
        if n_won < self.n["projects"]:
            self.say(f"  note: only {n_won} PS opportunities could be won by now (wanted {self.n['projects']})")
        won = set(map(id, rng.sample(done, n_won)))
        for ps in self.pss:
            if id(ps) in won:
                ps.fate = "won"
            elif ps.won_t < self.now_t - DAY:
                ps.fate = "lost"
            else:
                ps.fate = "open"
            self.settle_ps(ps)
        for opp in self.opps:
            self.settle_opp(opp)
        # Ids in the order the records were made.
        for ps in self.pss:
            rom = ps.rom
            rom.id = self.new_id(Rom)
            for version in rom.versions:
                version.id = self.new_id(RomVersion)
        for opp in self.opps:
            if opp.rom is not None:
                opp.rom.id = self.new_id(Rom)
                for version in opp.rom.versions:
                    version.id = self.new_id(RomVersion)
        for rom in self.roms:
            for request in rom.requests:
                request.id = self.new_id(ApprovalRequest)
                for decision in request.decisions:
                    decision.id = self.new_id(Decision)
        for ps in self.pss:
            for quote in ps.quotes:
                quote.id = self.new_id(Quote)
                quote.line_ids = self.ids(QuoteLine, len(quote.est.quote_lines))
                if quote.request is not None:
                    quote.request.id = self.new_id(ApprovalRequest)
                    for decision in quote.request.decisions:
                        decision.id = self.new_id(Decision)
            sow = ps.sow
            if sow is not None:
                sow.id = self.new_id(Sow)
                sow.milestones = [Obj(id=self.new_id(SowMilestone), name=f"Milestone {k + 1}", amount=amount)
                                  for k, amount in enumerate(sow.milestone_amounts)]
                sow.revision_id = self.new_id(SowRevision) if sow.state in ("sent", "signed") else None
                sow.signature_id = self.new_id(SowSignature) if sow.state == "signed" else None

    def chain_times(self, ps: Obj) -> None:
        """The moments each step of this PS opportunity's chain would happen, were nothing lost on the way."""
        rng = self.rng
        template = weighted(rng, [("price-book", 40), ("sm-to-saas", 25), ("implementation", 35)])
        nv = weighted(rng, [(1, 70), (2, 22), (3, 8)])
        rom_t = ps.created_t - 2 * HOUR
        versions, requests = [], []
        t = rom_t
        for j in range(nv):
            versions.append(Obj(number=j + 1, est=self.estimate(template), created_t=t,
                                by=self.pick("solutions_architect")))
            submitted = t + HOUR
            delay = self.days_(0.2, 3) if rng.random() < 0.9 else self.days_(3, 9)
            requests.append(Obj(version=j, submitted_t=submitted, decided_t=submitted + delay))
            t = submitted + delay + self.days_(1, 6)
        ps.rom = Obj(template=template, created_t=rom_t, versions=versions, requests=requests, ps=ps, opp=ps.opp)
        approved = requests[-1].decided_t
        ps.approved_t = approved
        ps.terms = weighted(rng, TERMS_WEIGHTS)
        ps.discount = 0 if rng.random() < 0.8 else rng.choice([5, 10, 15, 20])
        ps.net_days = 30 if rng.random() < 0.9 else rng.choice([45, 60])
        ps.earlier_quote = rng.random() < 0.08
        q = approved + self.days_(1, 12)
        if ps.earlier_quote:
            ps.q0 = Obj(created_t=q, sent_t=q + self.days_(0.1, 2), answered_t=0)
            ps.q0.answered_t = ps.q0.sent_t + self.days_(3, 15)
            q = ps.q0.answered_t + self.days_(1, 5)
        ps.q_created = q
        needs = ps.discount > 0 or ps.terms != "full-on-signature"
        ps.q_approved = q + HOUR + (self.days_(0.2, 3) if needs else 0)
        ps.q_sent = ps.q_approved + self.days_(0.05, 2)
        ps.q_accepted = ps.q_sent + self.days_(2, 25)
        ps.sow_created = ps.q_accepted + self.days_(1, 6)
        ps.sow_review = ps.sow_created + self.days_(1, 5)
        ps.sow_approved = ps.sow_review + self.days_(0.2, 3)
        ps.sow_sent = ps.sow_approved + self.days_(0.05, 2)
        ps.sow_signed = ps.sow_sent + self.days_(1, 12)
        ps.won_t = ps.sow_signed + self.days_(0.05, 2)

    def settle_ps(self, ps: Obj) -> None:
        """Cut the chain where the PS opportunity stands today: won, lost on the way, or open at some step."""
        rng, now = self.rng, self.now_t
        rom = ps.rom
        self.roms.append(rom)
        ps.quotes, ps.sow, ps.project, ps.loss, ps.closed_t = [], None, None, "", None
        ps.stage = "rom-approval"
        reqs = rom.requests
        est = rom.versions[-1].est
        ps.amount = est.high
        if ps.fate == "open" and now < ps.approved_t:
            # Still in ROM approval: the versions made by now, the last one waiting, asked about, or revised.
            kept = [v for v in rom.versions if v.created_t < now - HOUR] or rom.versions[:1]
            rom.versions = kept
            reqs = rom.requests = reqs[:len(kept)]
            status = weighted(rng, [("submitted", 70), ("needs-discovery", 20), ("draft", 10)])
            if status == "draft" and len(kept) < 2:
                status = "submitted"
            if status == "draft":
                reqs.pop()
            for r in reqs:
                r.state = "needs-discovery"
                r.decided_t = min(r.decided_t, now - HOUR)
            if status == "submitted":
                reqs[-1].state, reqs[-1].decided_t = "pending", None
                reqs[-1].submitted_t = min(reqs[-1].submitted_t, now - HOUR)
            rom.status = status
            rom.approved = None
            self.decide(rom)
            ps.amount = rom.versions[-1].est.high
            return
        for r in reqs[:-1]:
            r.state = "needs-discovery"
        lost_at = None
        if ps.fate == "lost":
            lost_at = "rom" if rng.random() < 0.35 else "quote"
        if lost_at == "rom" and rng.random() < 0.4:
            reqs[-1].state, rom.status, rom.approved = "rejected", "rejected", None
            ps.closed_t = reqs[-1].decided_t + self.days_(1, 10)
        else:
            reqs[-1].state, rom.status, rom.approved = "approved", "approved", rom.versions[-1]
            ps.stage = "approved"
            ps.approved_stage_t = reqs[-1].decided_t
            if lost_at == "rom":
                ps.closed_t = ps.approved_t + self.days_(5, 40)
        self.decide(rom)
        if lost_at == "rom":
            self.lose(ps)
            return
        # Quotes.
        needs = ps.discount > 0 or ps.terms != "full-on-signature"
        if ps.fate == "open" and now < ps.q_sent:
            draw = rng.random()
            if now > ps.q_created + HOUR and draw < 0.6:
                state = "draft" if draw < 0.3 else ("pending-approval" if needs else "approved")
                if state == "approved" and now < ps.q_approved:
                    state = "pending-approval" if needs else "draft"
                ps.quotes.append(self.quote(ps, ps.q_created, state))
            return
        if ps.earlier_quote and ps.q0.answered_t < now:
            q0 = self.quote(ps, ps.q0.created_t, "declined", sent_t=ps.q0.sent_t, answered_t=ps.q0.answered_t)
            ps.quotes.append(q0)
        if lost_at == "quote":
            expired = rng.random() < 0.4
            answered = ps.q_sent + (self.days_(31, 40) if expired else self.days_(3, 20))
            quote = self.quote(ps, ps.q_created, "expired" if expired else "declined", sent_t=ps.q_sent,
                               answered_t=answered)
            ps.quotes.append(quote)
            ps.amount = quote.total
            ps.closed_t = answered + self.days_(0, 5)
            ps.stage = "quoted"
            self.lose(ps)
            return
        if now < ps.q_accepted:  # open, with the customer
            quote = self.quote(ps, ps.q_created, "sent", sent_t=ps.q_sent)
            ps.quotes.append(quote)
            ps.amount, ps.stage = quote.total, "quoted"
            return
        quote = self.quote(ps, ps.q_created, "accepted", sent_t=ps.q_sent, answered_t=ps.q_accepted)
        ps.quotes.append(quote)
        ps.amount, ps.stage = quote.total, "quote-accepted"
        # The SOW.
        if now < ps.sow_created:
            return
        state = ("draft" if now < ps.sow_review else "in-review" if now < ps.sow_approved else
                 "approved" if now < ps.sow_sent else "sent" if now < ps.sow_signed else "signed")
        ps.sow = self.sow(ps, quote, state)
        if state in ("sent", "signed"):
            ps.stage = "sow-out"
        if state == "signed":
            ps.stage = "sow-signed"
        if ps.fate == "won":
            ps.stage = "closed-won"
            ps.closed_t = ps.won_t

    def lose(self, ps: Obj) -> None:
        ps.stage_before_loss = ps.stage
        ps.stage = "closed-lost"
        ps.loss = LOSS[self.rng.randrange(len(LOSS))]
        ps.closed_t = min(ps.closed_t, self.now_t - HOUR)

    def decide(self, rom: Obj) -> None:
        """Who decided each request of a ROM, and what."""
        rng = self.rng
        rom.by = rom.versions[0].by
        for r in rom.requests:
            version = rom.versions[r.version]
            r.tech = version.est.tech
            r.decisions = []
            if r.state == "pending":
                continue
            first = self.pick("ps_manager") if rng.random() < 0.7 else self.pick("dir_cs")
            outcome = {"approved": "approve", "needs-discovery": "needs-discovery", "rejected": "reject"}[r.state]
            if r.state == "approved" and r.tech:
                r.decisions.append(Obj(approver=first, outcome="approve", codes=["rom-approval"],
                                       t=r.decided_t - self.days_(0.05, 0.5), role_of=self.role_of_decider(first)))
                ta = self.pick("technical_architect")
                r.decisions.append(Obj(approver=ta, outcome="approve", codes=["technical-review"], t=r.decided_t,
                                       role_of="technical_architect"))
            else:
                comment = DISCOVERY[rng.randrange(len(DISCOVERY))] if outcome != "approve" else ""
                r.decisions.append(Obj(approver=first, outcome=outcome, codes=["rom-approval"], t=r.decided_t,
                                       role_of=self.role_of_decider(first), comment=comment))

    def role_of_decider(self, uid: int) -> str:
        return "dir_cs" if uid in self.pools["dir_cs"] else "ps_manager"

    def quote(self, ps: Obj, created: int, state: str, sent_t: int | None = None,
              answered_t: int | None = None) -> Obj:
        rng = self.rng
        est = ps.rom.approved.est
        subtotal = sum(line[3] for line in est.quote_lines)
        discount_amount = half_up(subtotal * ps.discount)
        total = subtotal - discount_amount
        needs = ps.discount > 0 or ps.terms != "full-on-signature"
        contact = ps.opp.acc.contacts[rng.randrange(3)]
        quote = Obj(ps=ps, est=est, version=ps.rom.approved, created_t=created, state=state, subtotal=subtotal,
                    discount=ps.discount, discount_amount=discount_amount, total=total, terms=ps.terms,
                    sent_t=sent_t, answered_t=answered_t, contact=contact if sent_t else None, request=None,
                    valid_d=((sent_t or created) // DAY) + rng.randrange(30, 61))
        if needs and state != "draft":
            request = Obj(state="pending" if state == "pending-approval" else "approved", submitted_t=created + HOUR,
                          decided_t=None, decisions=[])
            codes = (["discount"] if ps.discount else []) + (["billing-terms"] if ps.terms != "full-on-signature"
                                                           else [])
            request.codes = codes
            if request.state == "approved":
                t = created + HOUR
                for code in codes:
                    t += self.days_(0.1, 1.5)
                    who = self.pick("dir_cs") if code == "discount" else self.pick("director_ps")
                    request.decisions.append(Obj(approver=who, outcome="approve", codes=[code], t=t,
                                                 role_of="dir_cs" if code == "discount" else "director_ps",
                                                 comment=""))
                request.decided_t = t
            quote.request = request
        return quote

    def sow(self, ps: Obj, quote: Obj, state: str) -> Obj:
        rng = self.rng
        price = quote.total
        amounts: list[int] = []
        if ps.terms == "milestones":
            n = rng.randint(3, 5)
            share = price // n
            amounts = [share] * (n - 1) + [price - share * (n - 1)]
            if share <= 0:
                amounts = [price]
        lines = quote.est.quote_lines
        return Obj(ps=ps, quote=quote, state=state, price=price, terms=ps.terms, net_days=ps.net_days,
                   hourly=HOURLY_RATE_C if ps.terms == "time-and-materials" else None,
                   title=f"Statement of work: {ps.name}",
                   scope="\n".join(f"- {d} (x{q})" for _, d, q, _ in lines),
                   deliverables="\n".join(f"- {d}" for _, d, _, _ in lines),
                   assumptions=quote.est.assumptions, author=self.pick("ps_engineer"),
                   reviewer=self.pick("ps_manager") if state != "draft" else None,
                   contact=quote.contact if state in ("sent", "signed") else None,
                   created_t=ps.sow_created, milestone_amounts=amounts)

    def settle_opp(self, opp: Obj) -> None:
        """The deal's stage follows its PS opportunities; a deal without any is open, won or lost by its age."""
        rng, now = self.rng, self.now_t
        age = (now - opp.created_t) / DAY
        stages = [ps.stage for ps in opp.ps]
        opp.stage_t = opp.created_t + DAY
        if "closed-won" in stages:
            opp.stage = "closed-won"
            opp.stage_t = min(ps.won_t for ps in opp.ps if ps.stage == "closed-won")
        elif any(s not in ("closed-won", "closed-lost") for s in stages):
            furthest = max(PS_OPEN_ORDER.index(s) for s in stages if s in PS_OPEN_ORDER)
            opp.stage = ("2-scoping", "4-proposal", "5-negotiating", "6-awaiting-signature", "6-awaiting-signature",
                         "7-closing")[furthest]
            if rng.random() < 0.2:
                opp.stage = "closed-won"
            opp.stage_t = max(ps.created_t for ps in opp.ps)
        elif stages:
            opp.stage = "8-closed-lost" if rng.random() < 0.75 else "closed-won"
            opp.stage_t = min(max(ps.closed_t for ps in opp.ps) + self.days_(0, 10), now - HOUR)
        elif age > 150:
            opp.stage = weighted(rng, [("8-closed-lost", 45), ("9-unqualified", 20), ("10-duplicate", 5),
                                       ("closed-won", 30)])
            opp.stage_t = opp.created_t + self.days_(20, 140)
        else:
            warn, close = INACTIVITY[opp.segment]
            opp.stage = ("0-pending-acceptance" if age < 3 else
                         weighted(rng, [("1-discovery", 35), ("2-scoping", 35), ("3-technical-evaluation", 30)]))
            opp.stage_t = min(opp.created_t + self.days_(0, 3), now - HOUR)
            if opp.stage in ("1-discovery", "2-scoping"):
                # The worker has kept these: idle less than the closing limit; warned (mostly) once past the warning.
                idle = rng.uniform(0, close - 0.5)
                last = max(now - int(idle * DAY), opp.stage_t)
                opp.last_t = last
                if (now - last) / DAY > warn and rng.random() < 0.8:
                    opp.warned_t = last + warn * DAY + self.days_(0, 0.5)
        opp.last_t = getattr(opp, "last_t", None) or min(max([opp.stage_t] + [ps.closed_t or ps.created_t
                                                                               for ps in opp.ps]), now - HOUR)
        opp.stage_t = min(opp.stage_t, now - HOUR)
        # A deal without PS may hold a ROM of its own (never turned into a PS opportunity).
        if not opp.ps and rng.random() < 0.4:
            template = weighted(rng, [("price-book", 40), ("sm-to-saas", 25), ("implementation", 35)])
            created = min(opp.created_t + self.days_(3, 20), now - 2 * HOUR)
            version = Obj(number=1, est=self.estimate(template), created_t=created, by=self.pick("solutions_architect"))
            rom = Obj(template=template, created_t=created, versions=[version], ps=None, opp=opp, approved=None)
            open_ = opp.stage not in ("closed-won", "8-closed-lost", "9-unqualified", "10-duplicate")
            recent = now - created < 12 * DAY
            rom.status = (weighted(rng, [("submitted", 50), ("draft", 50)]) if open_ and recent else
                          weighted(rng, [("draft", 40), ("needs-discovery", 25), ("rejected", 35)]))
            rom.requests = []
            if rom.status != "draft":
                decided = min(created + HOUR + self.days_(0.2, 4), now - HOUR)
                state = {"submitted": "pending", "needs-discovery": "needs-discovery", "rejected": "rejected"}
                rom.requests.append(Obj(version=0, submitted_t=created + HOUR, state=state[rom.status],
                                        decided_t=None if rom.status == "submitted" else decided))
            self.decide(rom)
            opp.rom = rom
            self.roms.append(rom)

    # --- projects and what they bill ---------------------------------------------------------------------------

    def month_of(self, day: int) -> int:
        y, m = self.year_month(day)
        return y * 12 + m - 1

    def first_day_of(self, month_index: int) -> int:
        return self.month_start_day(month_index // 12, month_index % 12 + 1)

    def plan_projects(self) -> None:
        from psops.delivery.models import Project

        rng, now = self.rng, self.now_t
        won = sorted((ps for ps in self.pss if ps.fate == "won"), key=lambda p: p.won_t)
        self.projects = []
        for ps in won:
            sow = ps.sow
            engineers = rng.sample(self.pools["ps_engineer"], min(len(self.pools["ps_engineer"]),
                                                                  1 if rng.random() < 0.6 else 2))
            p = Obj(id=self.new_id(Project), ps=ps, sow=sow, terms=ps.terms, price=sow.price, created_t=ps.won_t,
                    manager=self.pick("ps_manager"), engineers=engineers, kickoff_t=ps.won_t + self.days_(7, 21),
                    u=rng.random(), cancelled=rng.random() < 0.015, hold=rng.random() < 0.03, co=None,
                    invoices=[], whale=False)
            ps.project = p
            self.projects.append(p)
        # The long-running time-and-materials project whose page shows thousands of events.
        old = [p for p in self.projects if p.terms == "time-and-materials" and p.kickoff_t < now - 500 * DAY]
        self.whale = old[len(old) // 2] if old else None
        if self.whale is not None:
            self.whale.whale, self.whale.cancelled, self.whale.hold = True, False, False
        self.last_billable_m = self.month_of(self.today_d) - 1
        # How long time-and-materials work runs is scaled so that the invoices come to the wanted count.
        n_open, n_pay = self.n["open_invoices"], self.n["payments"]
        target = round((n_pay - 0.05 * n_open) / 1.005) + n_open
        self.co_share = 0.04
        fixed = 0
        for p in self.projects:
            if p.terms != "time-and-materials":
                self.project_dates(p, 1.0)
                fixed += len(self.bill_plan(p))
        fixed += round(self.co_share * len(self.projects))
        low, high = 0.05, 6.0
        for _ in range(30):
            mult = (low + high) / 2
            total = fixed + sum(self.tm_months(p, mult)[1] for p in self.projects
                                if p.terms == "time-and-materials")
            if total > target:
                high = mult
            else:
                low = mult
        self.tm_mult = (low + high) / 2
        for p in self.projects:
            if p.terms == "time-and-materials":
                self.project_dates(p, self.tm_mult)
        self.say(f"  time-and-materials engagements run {self.tm_mult:.2f} x (6 to 30 months) so that "
                 f"{target:,} invoices are billed")

    def project_dates(self, p: Obj, mult: float) -> None:
        rng, now = self.rng, self.now_t
        if p.terms == "time-and-materials":
            planned = int(mult * (180 + p.u * 720) * DAY)
            if p.whale:
                planned = max(planned, now - p.kickoff_t + 400 * DAY)
        else:
            planned = int((30 + p.u * 170) * DAY)
        p.completion_t = p.kickoff_t + planned
        p.closure_t = p.completion_t - int((0.5 + p.u * 3.5) * DAY)
        p.wrap_t = p.completion_t + int((3 + p.u * 12) * DAY)
        p.cancel_t = p.kickoff_t + int((10 + p.u * 50) * DAY) if p.cancelled else None
        if p.cancel_t is not None and (p.cancel_t >= p.closure_t or p.cancel_t >= now):
            p.cancelled, p.cancel_t = False, None
        del rng

    def tm_months(self, p: Obj, mult: float) -> tuple[int, int]:
        """(months planned, months billed by now) of a time-and-materials project."""
        planned = int(mult * (180 + p.u * 720) * DAY)
        if p.whale:
            planned = max(planned, self.now_t - p.kickoff_t + 400 * DAY)
        start = self.month_of(p.kickoff_t // DAY)
        end = self.month_of((p.kickoff_t + planned) // DAY)
        stop = end
        if p.cancelled:
            stop = min(stop, self.month_of((p.kickoff_t + 10 * DAY) // DAY))
        return end - start + 1, max(0, min(stop, self.last_billable_m) - start + 1)

    def bill_plan(self, p: Obj) -> list[tuple[int, int, int, int]]:
        """(kind, reference, amount in cents, drafted at) of each bill of the project, to date."""
        now = self.now_t
        price, terms = p.price, p.terms
        out: list[tuple[int, int, int, int]] = []
        if price <= 0:
            return out
        signed = p.created_t + 60
        done = p.wrap_t <= now and not p.cancelled
        if terms == "full-on-signature":
            out.append((K_SIGNATURE, 0, price, signed))
        elif terms == "50-50":
            half = half_up(price * 50)
            out.append((K_SIGNATURE, 0, half, signed))
            if done:
                out.append((K_COMPLETION, 0, price - half, p.wrap_t))
        elif terms == "on-completion":
            if done:
                out.append((K_COMPLETION, 0, price, p.wrap_t))
        elif terms == "milestones":
            amounts = p.sow.milestone_amounts
            for k, amount in enumerate(amounts):
                at = p.kickoff_t + (p.completion_t - p.kickoff_t) * (k + 1) // len(amounts) - DAY
                if at < now - HOUR and (not p.cancelled or at < p.cancel_t):
                    out.append((K_MILESTONE, k, amount, at))
        else:
            start = self.month_of(p.kickoff_t // DAY)
            planned = self.month_of(p.completion_t // DAY) - start + 1
            stop = start + planned - 1
            if p.cancelled:
                stop = min(stop, self.month_of(p.cancel_t // DAY))
            share = price // planned
            for m in range(start, min(stop, self.last_billable_m) + 1):
                amount = share if m < start + planned - 1 else price - share * (planned - 1)
                if amount > 0:
                    drafted = self.first_day_of(m + 1) * DAY + 9 * HOUR + (p.id * 37) % (7 * HOUR)
                    out.append((K_TIME, m, amount, drafted))
        return out

    def plan_billing(self) -> None:
        """Every bill of every project, then which are paid, which still open (as many as wanted, the latest payers and
        the customers who never pay), and the payments, credit notes and write-offs that make their balances."""
        from psops.delivery.models import ChangeOrder

        rng, now, today = self.rng, self.now_t, self.today_d
        inv_proj, inv_kind, inv_ref = array("l"), array("b"), array("l")
        inv_amount, inv_drafted = array("q"), array("q")
        for index, p in enumerate(self.projects):
            plan = self.bill_plan(p)
            # A change order on some engagements under way: more scope and value, and its own bill.
            if (not p.cancelled and rng.random() < self.co_share * 1.3 and p.kickoff_t + 20 * DAY < now
                    and p.price > 0):
                at = min(p.kickoff_t + self.days_(10, 90), p.closure_t - DAY, now - DAY)
                if at > p.kickoff_t:
                    amount = max(100, p.price * rng.randrange(10, 26) // 100)
                    p.co = Obj(id=self.new_id(ChangeOrder), amount=amount, t=at, by=p.manager)
                    p.ps.amount += amount
                    plan.append((K_CHANGE, p.co.id, amount, at + DAY))
            for kind, ref, amount, drafted in plan:
                inv_proj.append(index)
                inv_kind.append(kind)
                inv_ref.append(ref)
                inv_amount.append(amount)
                inv_drafted.append(drafted)
        nonvoid = len(inv_proj)
        n_void = max(0, self.n["invoices"] - nonvoid)
        # Issued some days after drafting (still drafts when that is after now); paid after some delay, or never.
        inv_issue, inv_paid = array("l"), array("l")
        for k in range(nonvoid):
            issue = inv_drafted[k] // DAY + rng.choice((0, 0, 1, 1, 2, 3, 4))
            if issue * DAY + 9 * HOUR > now:
                inv_issue.append(-1)
                inv_paid.append(-1)
                continue
            inv_issue.append(issue)
            draw = rng.random()
            delay = (rng.randrange(5, 45) if draw < 0.70 else rng.randrange(45, 120) if draw < 0.90 else
                     rng.randrange(120, 500) if draw < 0.96 else NEVER)
            inv_paid.append(issue + delay if delay != NEVER else NEVER + rng.randrange(1000))
        issued = [k for k in range(nonvoid) if inv_issue[k] >= 0]
        issued.sort(key=lambda k: inv_paid[k], reverse=True)
        open_ = set(issued[:self.n["open_invoices"]])
        inv_state = array("b", [S_DRAFT] * nonvoid)
        for k in issued:
            inv_state[k] = S_ISSUED if k in open_ else S_PAID
        # Voided drafts: a bill drafted wrong, voided and drafted again under the same key.
        for k in rng.sample(range(nonvoid), min(n_void, nonvoid)) if nonvoid else []:
            inv_proj.append(inv_proj[k])
            inv_kind.append(inv_kind[k])
            inv_ref.append(inv_ref[k])
            inv_amount.append(inv_amount[k] + 100 * rng.randrange(1, 50))
            inv_drafted.append(max(inv_drafted[k] - self.days_(0.05, 1), self.projects[inv_proj[k]].created_t + 30))
            inv_issue.append(-1)
            inv_paid.append(-1)
            inv_state.append(S_VOID)
        self.inv_proj, self.inv_kind, self.inv_ref = inv_proj, inv_kind, inv_ref
        self.inv_amount, self.inv_drafted, self.inv_issue = inv_amount, inv_drafted, inv_issue
        self.inv_paid, self.inv_state = inv_paid, inv_state
        self.inv_net = array("l", (self.projects[inv_proj[k]].sow.net_days for k in range(len(inv_proj))))
        # Money: payments (full on paid bills, sometimes in two parts; part of some open ones), credit notes and
        # write-offs on open ones. What stays owed is always more than nothing.
        self.payments: list[tuple[int, int, int]] = []  # (invoice index, cents, day)
        self.credits: list[tuple[int, int, int]] = []  # (invoice index, cents, t)
        self.writeoffs: list[tuple[int, int, str, int, int | None]] = []  # (index, cents, state, t, decided t)
        paid_c = array("q", [0] * len(inv_proj))
        settled_c = array("q", [0] * len(inv_proj))
        for k in range(nonvoid):
            state = inv_state[k]
            amount, issue = inv_amount[k], inv_issue[k]
            if state == S_PAID:
                day = min(inv_paid[k], today)
                if rng.random() < 0.005 and amount >= 200 and day - issue >= 2:
                    first = amount * rng.randrange(30, 71) // 100
                    self.payments.append((k, first, rng.randrange(issue + 1, day)))
                    self.payments.append((k, amount - first, day))
                else:
                    self.payments.append((k, amount, day))
                paid_c[k] = amount
            elif state == S_ISSUED:
                owed = amount
                if rng.random() < 0.05 and amount >= 300 and today > issue:
                    part = amount * rng.randrange(20, 71) // 100
                    self.payments.append((k, part, rng.randrange(issue + 1, today + 1)))
                    paid_c[k] = part
                    owed -= part
                if rng.random() < 0.015 and owed >= 300:
                    credit = max(1, owed * rng.randrange(5, 21) // 100)
                    self.credits.append((k, credit, self.work_t(rng.randrange(issue, today + 1))))
                    settled_c[k] += credit
                    owed -= credit
                if issue < today - 180 and owed >= 300:
                    draw = rng.random()
                    if draw < 0.3:
                        cents = max(1, owed * rng.randrange(10, 41) // 100)
                        asked = self.work_t(rng.randrange(issue + 90, today))
                        if draw < 0.25:
                            decided = min(asked + self.days_(0.2, 5), now - HOUR)
                            self.writeoffs.append((k, cents, "approved", asked, decided))
                            settled_c[k] += cents
                        else:
                            self.writeoffs.append((k, cents, "requested", asked, None))
        self.paid_c, self.settled_c = paid_c, settled_c
        self.say(f"  {len(inv_proj):,} invoices ({len(open_):,} open, {n_void:,} void drafts, "
                 f"{sum(1 for s in inv_state if s == S_DRAFT):,} drafts), {len(self.payments):,} payments, "
                 f"{len(self.credits):,} credit notes, {len(self.writeoffs):,} write-offs")
        # Where each project stands today.
        open_by_project: dict[int, int] = {}
        last_paid: dict[int, int] = {}
        for k in range(nonvoid):
            if inv_state[k] == S_ISSUED:
                open_by_project[inv_proj[k]] = open_by_project.get(inv_proj[k], 0) + 1
            elif inv_state[k] == S_PAID:
                last_paid[inv_proj[k]] = max(last_paid.get(inv_proj[k], 0), min(inv_paid[k], today))
        for index, p in enumerate(self.projects):
            self.project_state(p, open_by_project.get(index, 0), last_paid.get(index))

    def project_state(self, p: Obj, open_invoices: int, last_paid_day: int | None) -> None:
        now = self.now_t
        p.acceptance = ""
        p.closed_t = None
        if p.cancelled:
            p.state = "cancelled"
        elif now < p.created_t + 2 * DAY:
            p.state = "created"
        elif now < p.kickoff_t:
            p.state = "staffed"
        elif now < p.kickoff_t + 5 * DAY:
            p.state = "kicked-off"
        elif now < p.closure_t:
            p.state = "on-hold" if p.hold else "in-delivery"
        elif now < p.completion_t:
            p.state = "closure"
        elif now < p.wrap_t:
            p.state = "completed"
        else:
            p.state = "wrapped-up"
            if not open_invoices:
                closed = max(p.wrap_t + int((2 + p.u * 8) * DAY), (last_paid_day or 0) * DAY + 10 * HOUR)
                if closed < now:
                    p.state, p.closed_t = "closed", closed
        if p.state in ("completed", "wrapped-up", "closed"):
            p.acceptance = "signed" if p.u < 0.8 else "passive"
        p.percent = {"created": 0, "staffed": 0, "kicked-off": 5, "closure": 99, "completed": 100, "wrapped-up": 100,
                     "closed": 100, "cancelled": 20}.get(p.state)
        if p.percent is None:  # in delivery or on hold: by the time gone
            span = max(p.closure_t - p.kickoff_t, DAY)
            p.percent = max(5, min(95, 100 * (now - p.kickoff_t) // span))

    # --- rows ---------------------------------------------------------------------------------------------------------

    def content_types(self) -> None:
        from django.contrib.contenttypes.models import ContentType

        self.ct = {ct.model: ct.pk for ct in ContentType.objects.filter(
            app_label__in=["crm", "estimating", "approvals", "sales", "delivery", "billing", "activity"])}
        from psops.approvals.models import ApprovalPolicy

        policy = ApprovalPolicy.objects.get(is_active=True)
        self.policy_id = policy.pk
        self.rules = {r["code"]: r for r in policy.rules}

    def rows_accounts(self):
        for acc in self.accounts:
            site = f"https://www.{acc.short.replace(' ', '').lower()}.example"
            yield (acc.id, acc.name, site, self.ts(acc.created_t), acc.owner)

    def rows_contacts(self):
        for acc in self.accounts:
            for c in acc.contacts:
                yield (c.id, c.name, c.email, c.title, acc.id)

    def rows_opportunities(self):
        ts = self.ts
        for o in self.opps:
            yield (o.id, o.name, money(o.amount), o.currency, self.ds(o.close_d), o.segment, o.stage, ts(o.stage_t),
                   ts(o.last_t), ts(o.warned_t) if o.warned_t else None, ts(o.created_t), o.acc.id, o.owner,
                   *self.deal_team(o.id))

    def deal_team(self, deal_id: int) -> tuple[int | None, int | None]:
        """Most deals name a solutions architect and a TAM, spread over the people who hold those roles."""
        architects, tams = self.pools["solutions_architect"], self.pools["tam"]
        return (architects[deal_id % len(architects)] if architects and deal_id % 5 else None,
                tams[deal_id % len(tams)] if tams and deal_id % 3 else None)

    def rows_threads(self):
        from psops.activity.models import Thread

        ids = self.ids(Thread, len(self.opps))
        for o, tid in zip(self.opps, ids, strict=True):
            o.thread = tid
            yield (tid, o.id, f"{o.acc.name}: {o.name}", self.ts(o.created_t), self.ct["opportunity"])

    def rows_ps(self):
        ts = self.ts
        for ps in self.pss:
            yield (ps.id, ps.name, money(ps.amount), "USD", ps.stage, ps.loss, "",
                   ts(ps.closed_t) if ps.closed_t else None, ts(ps.created_t), ps.opp.owner, ps.opp.id)

    def rows_roms(self):
        ts = self.ts
        for rom in self.roms:
            rom.current = rom.versions[-1]
            yield (rom.id, rom.template, rom.status, ts(rom.created_t), rom.by, rom.opp.id,
                   rom.ps.id if rom.ps else None, rom.approved.id if rom.approved else None, rom.current.id)

    def rows_rom_versions(self):
        ts = self.ts
        for rom in self.roms:
            for v in rom.versions:
                e = v.est
                yield (v.id, v.number, e.answers, e.lines_json, e.flags, e.assumptions, "USD", money(e.low),
                       money(e.high), e.tables, ts(v.created_t), v.by, rom.id)

    def all_requests(self):
        """(request, kind, subject id, facts, title, author, submitter) of every approval request."""
        now = self.now_t
        for rom in self.roms:
            opp = rom.opp
            for r in rom.requests:
                v = rom.versions[r.version]
                facts = {"high": money(v.est.high), "low": money(v.est.low)}
                if r.state == "pending" and r.submitted_t < now - 5 * DAY and (r.submitted_t // 7) % 10 < 7:
                    facts["service_level_breached"] = (self.base + dt.timedelta(
                        seconds=r.submitted_t + 5 * DAY)).isoformat() + "+00:00"
                r.codes = ["rom-approval"] + (["technical-review"] if v.est.tech else [])
                r.opp = opp
                yield (r, "rom", v.id, facts, f"ROM-{rom.id} ({rom.template}) v{v.number} for {opp.acc.name}: "
                       f"{opp.name}", v.by, opp.owner)
        for ps in self.pss:
            for q in ps.quotes:
                r = q.request
                if r is None:
                    continue
                facts = {"discount": f"{q.discount}.00", "billing_terms": q.terms, "investment": False,
                         "high": money(q.total)}
                r.opp = ps.opp
                yield (r, "quote", q.id, facts, f"Q-{q.id:05d} for {ps.name}", ps.opp.owner, ps.opp.owner)

    def rows_requests(self):
        ts = self.ts
        for r, kind, subject, facts, title, author, submitter in self.all_requests():
            r.title, r.submitter, r.kind, r.subject = title, submitter, kind, subject
            yield (r.id, kind, subject, json.dumps(facts), r.state, ts(r.submitted_t),
                   ts(r.decided_t) if r.decided_t and r.state != "pending" else None, title, author, self.policy_id,
                   self.ct["romversion" if kind == "rom" else "quote"], submitter,
                   json.dumps(self.waiting_roles(r) if r.state == "pending" else []))

    def approved_roles(self, r, code: str) -> list[str]:
        return [d.role_of for d in r.decisions if d.outcome == "approve" and code in d.codes]

    def waiting_roles(self, r) -> list[str]:
        """What the approval services keep on a pending request (`roles_waited_for`): on each requirement nobody
        approved yet (a requirement is met by its first approval here), the roles it names."""
        return sorted({role for code in r.codes if not self.approved_roles(r, code)
                       for role in self.rules[code]["approvers"]})

    def rows_requirements(self):
        from psops.approvals.models import ApprovalRequirement

        for r, *_ in self.all_requests():
            ids = self.ids(ApprovalRequirement, len(r.codes))
            for rid, code in zip(ids, r.codes, strict=True):
                rule = self.rules[code]
                roles = self.approved_roles(r, code)
                yield (rid, code, rule["label"], json.dumps(rule["approvers"]), rule.get("mode", "any"),
                       json.dumps(roles), bool(roles), r.id)

    def rows_decisions(self):
        ts = self.ts
        for r, *_ in self.all_requests():
            for d in r.decisions:
                yield (d.id, d.outcome, json.dumps(d.codes), getattr(d, "comment", ""), ts(d.t), d.approver, r.id)

    def rows_quotes(self):
        from psops.sales.choices import QUOTE_TERMS

        ts = self.ts
        for ps in self.pss:
            for q in ps.quotes:
                yield (q.id, "USD", f"{q.discount}.00", q.terms, False, self.ds(q.valid_d), QUOTE_TERMS,
                       money(q.subtotal), money(q.discount_amount), money(q.total), q.state,
                       ts(q.sent_t) if q.sent_t else None, ts(q.answered_t) if q.answered_t else None, "",
                       ts(q.created_t), ps.opp.owner, ps.id, q.version.id, q.contact.id if q.contact else None,
                       self.policy_id if q.state != "draft" else None)

    def rows_quote_lines(self):
        for ps in self.pss:
            for q in ps.quotes:
                for lid, (code, desc, qty, amount) in zip(q.line_ids, q.est.quote_lines, strict=True):
                    yield (lid, code, desc, qty, money((2 * amount + qty) // (2 * qty)), money(amount), q.id)

    def sow_content(self, sow: Obj) -> dict:
        from psops.sales.services import SOW_ACCEPTANCE

        return {"sow": sow.id, "version": 1, "title": sow.title, "scope": sow.scope, "deliverables": sow.deliverables,
                "assumptions": sow.assumptions, "out_of_scope": "Anything not listed under scope.",
                "acceptance_terms": SOW_ACCEPTANCE, "currency": "USD", "price": money(sow.price),
                "billing_terms": sow.terms, "net_days": sow.net_days,
                "milestones": [[m.name, money(m.amount), None] for m in sow.milestones],
                "hourly_rate": money(sow.hourly) if sow.hourly is not None else None}

    def rows_sows(self):
        from psops.sales.services import SOW_ACCEPTANCE

        ts = self.ts
        for ps in self.pss:
            s = ps.sow
            if s is None:
                continue
            reviewed = s.state in ("approved", "sent", "signed")
            yield (s.id, 1, s.title, s.scope, s.deliverables, s.assumptions, "Anything not listed under scope.",
                   SOW_ACCEPTANCE, "USD", money(s.price), s.terms, s.net_days,
                   money(s.hourly) if s.hourly is not None else None, s.state,
                   ts(ps.sow_sent) if s.state in ("sent", "signed") else None, ts(s.created_t), s.author, ps.id,
                   s.quote.id, s.reviewer if reviewed else None, s.contact.id if s.contact else None,
                   self.policy_id if reviewed else None)

    def rows_milestones(self):
        for ps in self.pss:
            s = ps.sow
            if s is not None:
                for position, m in enumerate(s.milestones):
                    yield (m.id, m.name, money(m.amount), position, s.id, None)

    def rows_revisions(self):
        for ps in self.pss:
            s = ps.sow
            if s is None or s.revision_id is None:
                continue
            content = self.sow_content(s)
            s.hash = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
            yield (s.revision_id, 1, json.dumps(content), s.hash, self.ts(ps.sow_review), s.id)

    def rows_signatures(self):
        for ps in self.pss:
            s = ps.sow
            if s is None or s.signature_id is None:
                continue
            c = s.contact
            yield (s.signature_id, c.name, c.title, self.ts(ps.sow_signed), f"203.0.113.{s.id % 250 + 1}",
                   "Mozilla/5.0 (customer browser)", s.hash, 1, c.id, s.id, 2)

    def rows_projects(self):
        ts, ds = self.ts, self.ds
        for p in self.projects:
            started = p.state not in ("created", "staffed") and not (
                p.state == "cancelled" and p.cancel_t < p.kickoff_t)
            done = p.state in ("completed", "wrapped-up", "closed")
            yield (p.id, p.ps.name, "USD", p.state, "in-delivery" if p.state == "on-hold" else "", p.percent,
                   ds(p.kickoff_t // DAY) if started else None, ds(p.closure_t // DAY) if started else None,
                   ds(p.completion_t // DAY) if done else None, p.acceptance, money(min(p.price // 2, 10_000_000)),
                   ts(p.created_t), p.manager, p.ps.id, p.sow.id)

    def rows_assignments(self):
        from psops.delivery.models import Assignment

        for p in self.projects:
            if p.state == "created":
                continue
            for uid, engineer in zip(self.ids(Assignment, len(p.engineers)), p.engineers, strict=True):
                yield (uid, self.ts(p.created_t + DAY), p.manager, engineer, p.id)

    def rows_change_orders(self):
        for p in self.projects:
            if p.co is not None:
                yield (p.co.id, "Additional scope agreed with the customer", money(p.co.amount), self.ts(p.co.t),
                       p.co.by, p.id)

    def rows_acceptances(self):
        from psops.delivery.models import AcceptanceRequest

        rng, ts, now = self.rng, self.ts, self.now_t
        for p in self.projects:
            if p.state not in ("closure", "completed", "wrapped-up", "closed"):
                continue
            contact = p.sow.contact
            passive = (p.closure_t // DAY + 7) * DAY
            state, answered, name, title = "pending", None, "", ""
            if p.state != "closure":
                if p.acceptance == "signed":
                    state, answered, name, title = "accepted", min(p.completion_t, passive - HOUR), contact.name, \
                        contact.title
                else:
                    state, answered = "passive", passive
            p.completion_request = Obj(id=self.new_id(AcceptanceRequest), sent_t=p.closure_t, state=state,
                                       answered_t=answered)
            yield (p.completion_request.id, "completion", ts(p.closure_t), ts(passive), state,
                   ts(answered) if answered else None, name, title, "", "", "", contact.id, p.engineers[0], p.id)
            if p.state in ("wrapped-up", "closed"):
                sent = p.completion_t + DAY
                passive = (sent // DAY + 7) * DAY
                state = weighted(rng, [("accepted", 60), ("replied", 20), ("passive", 20)])
                answered = passive if state == "passive" else min(sent + self.days_(0.3, 3), passive - HOUR, now)
                signed = state == "accepted"
                p.signoff_t = answered
                yield (self.new_id(AcceptanceRequest), "sign-off", ts(sent), ts(passive), state, ts(answered),
                       contact.name if signed else "", contact.title if signed else "", "", "",
                       "accepted" if state == "replied" else "", contact.id, p.ps.opp.owner, p.id)

    def rows_wrap_ups(self):
        from psops.delivery.models import WrapUp

        for p in self.projects:
            if p.state in ("wrapped-up", "closed"):
                p.wrap_id = self.new_id(WrapUp)
                hours = max(1, p.price // 20_000)
                yield (p.wrap_id, self.ts(p.completion_t + DAY), f"{min(hours, 99_999)}.00",
                       money(min(p.price * 6 // 10, 99_999_999_900)), self.ts(p.wrap_t), p.id, p.engineers[0])

    def rows_wrap_up_items(self):
        from psops.delivery.models import WrapUpItem
        from psops.delivery.services import WRAP_UP_ITEMS

        for p in self.projects:
            if p.state not in ("wrapped-up", "closed"):
                continue
            ids = self.ids(WrapUpItem, len(WRAP_UP_ITEMS))
            for k, (iid, (code, label)) in enumerate(zip(ids, WRAP_UP_ITEMS, strict=True)):
                automatic = code in ("sign-off-sent", "final-invoice")
                note = "sent" if code == "sign-off-sent" else "not required by the terms" if code == "final-invoice" \
                    else ""
                yield (iid, code, label, self.ts(p.completion_t + DAY + (k + 1) * HOUR), note,
                       None if automatic else p.engineers[0], p.wrap_id)

    def plan_whale(self) -> None:
        """The whale's engineers log a day's work every business day: thousands of events on one project."""
        from psops.delivery.models import TimeEntry

        p = self.whale
        if p is None:
            return
        start = p.kickoff_t // DAY
        business = [d for d in range(start, self.today_d) if (self.base + dt.timedelta(days=d)).weekday() < 5]
        wanted = max(1, -(-WHALE_EVENTS // max(1, len(business))))
        pool = [e for e in self.pools["ps_engineer"] if e not in p.engineers]
        p.engineers = (p.engineers + pool)[:max(len(p.engineers), min(wanted, len(self.pools["ps_engineer"])))]
        p.time_entries = []
        for day in business:
            for engineer in p.engineers:
                if len(p.time_entries) < WHALE_EVENTS:
                    tid = self.new_id(TimeEntry)
                    p.time_entries.append((tid, day, engineer, 6 + (tid % 5) * 0.5))

    def rows_time_entries(self):
        p = self.whale
        if p is None:
            return
        for tid, day, engineer, hours in p.time_entries:
            month = self.month_of(day)
            key = f"time:{month // 12}-{month % 12 + 1:02d}" if month <= self.last_billable_m else ""
            yield (tid, self.ds(day), f"{hours:.2f}", "Delivery work", self.ts(day * DAY + 17 * HOUR), key,
                   p.manager, engineer, p.id)

    def rows_milestone_acceptances(self):
        from psops.delivery.models import MilestoneAcceptance

        for k in range(len(self.inv_proj)):
            if self.inv_kind[k] == K_MILESTONE and self.inv_state[k] != S_VOID:
                p = self.projects[self.inv_proj[k]]
                m = p.sow.milestones[self.inv_ref[k]]
                yield (self.new_id(MilestoneAcceptance), self.ts(self.inv_drafted[k] - 60), p.sow.contact.id, m.id,
                       p.id)

    def invoice_key(self, k: int) -> str:
        kind, ref = self.inv_kind[k], self.inv_ref[k]
        if kind == K_SIGNATURE:
            return "signature"
        if kind == K_COMPLETION:
            return "completion"
        if kind == K_MILESTONE:
            return f"milestone:{self.projects[self.inv_proj[k]].sow.milestones[ref].id}"
        if kind == K_TIME:
            return f"time:{ref // 12}-{ref % 12 + 1:02d}"
        return f"change-order:{ref}"

    def invoice_description(self, k: int) -> str:
        p = self.projects[self.inv_proj[k]]
        kind, ref = self.inv_kind[k], self.inv_ref[k]
        sow = f"SOW-{p.sow.id:05d} v1"
        if kind == K_SIGNATURE:
            return f"{sow}: 100% on signature" if p.terms == "full-on-signature" else f"{sow}: 50% up front"
        if kind == K_COMPLETION:
            return f"{sow}: on completion"
        if kind == K_MILESTONE:
            return f"Milestone 'Milestone {ref + 1}' accepted"
        if kind == K_TIME:
            month = dt.date(ref // 12, ref % 12 + 1, 1).strftime("%B %Y")
            return f"Time and materials {month}: {self.inv_amount[k] * 100 // HOURLY_RATE_C / 100:.2f} h"
        return "Change order: Additional scope agreed with the customer"

    def rows_invoices(self):
        from psops.billing.models import Invoice

        ts, ds = self.ts, self.ds
        self.inv_base = self.ids(Invoice, len(self.inv_proj)).start
        self.inv_finance = array("l")
        for k in range(len(self.inv_proj)):
            iid = self.inv_base + k
            state = self.inv_state[k]
            issued = state in (S_ISSUED, S_PAID)
            issue = self.inv_issue[k]
            net = self.inv_net[k]
            who = self.pick("finance")
            self.inv_finance.append(who)
            amount = self.inv_amount[k]
            owed = amount - self.paid_c[k] - self.settled_c[k] if state == S_ISSUED else 0
            yield (iid, self.invoice_key(k), f"INV-{iid:05d}" if issued else None, self.invoice_description(k), "USD",
                   money(amount), net, ("draft", "issued", "paid", "void")[state], ds(issue) if issued else None,
                   ds(issue + net) if issued else None, ts(self.inv_drafted[k]), who if issued else None,
                   self.projects[self.inv_proj[k]].id, money(owed), money(self.paid_c[k]))

    def rows_payments(self):
        from psops.billing.models import Payment

        now = self.now_t
        ids = self.ids(Payment, len(self.payments))
        self.payment_ids = ids
        for pid, (k, cents, day) in zip(ids, self.payments, strict=True):
            yield (pid, money(cents), self.ds(day), f"WIRE-{pid}" if pid % 5 < 3 else "",
                   self.ts(min(day * DAY + 11 * HOUR + pid % (6 * HOUR), now - 60)), self.inv_base + k,
                   self.inv_finance[k])

    def rows_credit_notes(self):
        from psops.billing.models import CreditNote

        for cid, (k, cents, t) in zip(self.ids(CreditNote, len(self.credits)), self.credits, strict=True):
            yield (cid, f"CN-{cid:05d}", money(cents), "Partial credit agreed with the customer",
                   self.ts(min(t, self.now_t - 60)), self.inv_finance[k], self.inv_base + k)

    def rows_write_offs(self):
        from psops.billing.models import WriteOff

        controller = self.pools["controller"]
        for wid, (k, cents, state, t, decided) in zip(self.ids(WriteOff, len(self.writeoffs)), self.writeoffs,
                                                      strict=True):
            yield (wid, money(cents), "Customer unable to pay in full", state, self.ts(min(t, self.now_t - 60)),
                   self.ts(decided) if decided else None, controller[wid % len(controller)] if decided else None,
                   self.inv_base + k, self.inv_finance[k])

    def plan_collections(self) -> None:
        """A collection case for every wrapped-up engagement: open while it owes, with reminders at rising levels."""
        from psops.billing.models import CollectionAction, CollectionCase

        oldest_due: dict[int, int] = {}
        for k in range(len(self.inv_proj)):
            if self.inv_state[k] == S_ISSUED:
                index = self.inv_proj[k]
                due = self.inv_issue[k] + self.inv_net[k]
                oldest_due[index] = min(oldest_due.get(index, due), due)
        self.cases = []
        for index, p in enumerate(self.projects):
            if p.state not in ("wrapped-up", "closed"):
                continue
            case = Obj(id=self.new_id(CollectionCase), p=p, opened_t=p.wrap_t + 60, actions=[])
            if index in oldest_due:
                case.state, case.closed_t = "open", None
                late = self.today_d - oldest_due[index]
                level = max(0, min(4, late // 20))
                for lv in range(1, level + 1):
                    at = min(max(p.wrap_t, (oldest_due[index] + 20 * lv) * DAY) + 10 * HOUR, self.now_t - HOUR)
                    case.actions.append(Obj(id=self.new_id(CollectionAction), kind="reminder", level=lv, t=at))
                case.level = level
                case.disputed = p.id % 37 == 0
            else:
                case.state, case.level, case.disputed = "closed", 0, False
                case.closed_t = p.closed_t or min(p.wrap_t + DAY, self.now_t - HOUR)
            self.cases.append(case)

    def rows_cases(self):
        ts = self.ts
        for c in self.cases:
            yield (c.id, c.state, c.level, ts(c.actions[-1].t) if c.actions else None, c.disputed, ts(c.opened_t),
                   ts(c.closed_t) if c.closed_t else None, c.p.id, 0)  # outstanding: `fill_kept` sets it

    def rows_case_actions(self):
        fin = self.pools["finance"]
        for c in self.cases:
            for a in c.actions:
                yield (a.id, a.kind, a.level, None, None, "", self.ts(a.t), fin[c.id % len(fin)], c.id)

    # --- the discussion, notifications, customer links and timers -----------------------------------------------

    def plan_messages(self) -> None:
        from psops.activity.models import Message

        rng, now = self.rng, self.now_t
        self.messages = []  # (id, kind, body, subject ct, subject id, t, author, thread, mentioned user or None)
        for o in self.opps:
            n = weighted(rng, [(0, 50), (1, 25), (2, 15), (3, 10)])
            if self.whale is not None and o is self.whale.ps.opp:
                n = 200
            life = max(o.last_t - o.created_t, HOUR)
            for _ in range(n):
                author = o.owner if rng.random() < 0.5 else self.pick("solutions_architect")
                body = COMMENTS[rng.randrange(len(COMMENTS))]
                mention = None
                if author != o.owner and rng.random() < 0.4:
                    mention = o.owner
                    body += f" @{self.username[o.owner]}"
                t = min(o.created_t + rng.randrange(life), now - 60)
                self.messages.append((self.new_id(Message), "comment", body, self.ct["opportunity"], o.id, t, author,
                                      o, mention))
        for rom in self.roms:
            for r in rom.requests:
                for d in r.decisions:
                    if d.outcome == "needs-discovery":
                        owner = rom.opp.owner
                        self.messages.append((self.new_id(Message), "question",
                                              f"{d.comment} @{self.username[owner]}", self.ct["romversion"],
                                              rom.versions[r.version].id, d.t + 5, d.approver, rom.opp, owner))

    def rows_messages(self):
        for mid, kind, body, ct, sid, t, author, opp, _ in self.messages:
            yield (mid, kind, body, sid, self.ts(t), author, None, ct, opp.thread)

    def rows_mentions(self):
        from psops.activity.models import Message

        through = Message.mentions.through
        for mid, *_, mention in self.messages:
            if mention is not None:
                yield (self.new_id(through), mid, mention)

    def rows_notifications(self):
        """What lands in people's inboxes: approvals asked of the demo approvers, decisions told to the rep who asked,
        mentions, and invoices to issue told to the demo Finance user (every approver of a role is told the same;
        only the demo user of each role is written, so that the tables stay the size of one firm's)."""
        from psops.activity.models import Notification

        now, ts = self.now_t, self.ts
        demo = self.demo
        ct_request = self.ct["approvalrequest"]
        labels = {"approved": "Approved", "needs-discovery": "Needs discovery", "rejected": "Rejected"}

        def row(recipient, kind, text, ct, sid, t):
            t = min(t, now - 1)
            read = ts(t + 3 * HOUR + (sid % 50) * HOUR) if t < now - 7 * DAY else None
            return (self.new_id(Notification), kind, text[:500], sid, ts(t), read, recipient, ct)

        for r, kind, *_ in self.all_requests():
            if kind == "rom":
                asked = [demo["psmanager"], demo["dircs"]] + ([demo["ta"]] if "technical-review" in r.codes else [])
            else:
                asked = ([demo["dircs"]] if "discount" in r.codes else []) + (
                    [demo["dirps"]] if "billing-terms" in r.codes else [])
            for who in asked:
                yield row(who, "approval-asked", f"Approval asked: {r.title}", ct_request, r.id, r.submitted_t + 1)
            if r.state in labels and r.decided_t:
                yield row(r.submitter, "approval-decided", f"{r.title}: {labels[r.state]}", ct_request, r.id,
                          r.decided_t + 1)
        for mid, _, body, _, _, t, author, opp, mention in self.messages:
            if mention is not None:
                yield row(mention, "mention", f"{self.name[author]} mentioned you in '{opp.acc.name}: {opp.name}': "
                                              f"{body}", self.ct["message"], mid, t + 1)
        ct_invoice = self.ct["invoice"]
        for k in range(len(self.inv_proj)):
            if self.inv_kind[k] == K_SIGNATURE and self.inv_state[k] != S_VOID:
                p = self.projects[self.inv_proj[k]]
                yield row(demo["finance"], "invoice-drafted", f"Invoice to review and issue for PRJ-{p.id:05d} "
                                                              f"{p.ps.name}.", ct_invoice, self.inv_base + k,
                          self.inv_drafted[k] + 1)

    def rows_links(self):
        """Live customer links: quotes with the customer, SOWs out for signature, completions waiting."""
        from psops.links.models import CustomerLink

        ts = self.ts
        for ps in self.pss:
            for q in ps.quotes:
                if q.state == "sent":
                    lid = self.new_id(CustomerLink)
                    token = hashlib.sha256(f"bench-link-{lid}".encode()).hexdigest()
                    yield (lid, q.id, "quote", q.contact.email, token, ts(q.sent_t + 30 * DAY), None, None,
                           ts(q.sent_t), q.contact.id, self.ct["quote"])
            if ps.sow is not None and ps.sow.state == "sent":
                lid = self.new_id(CustomerLink)
                yield (lid, ps.sow.id, "sow", ps.sow.contact.email,
                       hashlib.sha256(f"bench-link-{lid}".encode()).hexdigest(), ts(ps.sow_sent + 30 * DAY), None,
                       None, ts(ps.sow_sent), ps.sow.contact.id, self.ct["sow"])
        for p in self.projects:
            request = getattr(p, "completion_request", None)
            if request is not None and request.state == "pending":
                lid = self.new_id(CustomerLink)
                yield (lid, p.id, "completion", p.sow.contact.email,
                       hashlib.sha256(f"bench-link-{lid}".encode()).hexdigest(), ts(request.sent_t + 30 * DAY), None,
                       None, ts(request.sent_t), p.sow.contact.id, self.ct["project"])

    def rows_timers(self):
        """The timers the app would have armed (rows of the timer table): those run, with what they returned, and
        those still waiting for their time. Timers already due are left to the benchmark's sweep to arm."""
        from psops.core.models import Timer

        now, ts = self.now_t, self.ts

        def timer(kind: str, subject_id: int, due: int, done: bool, outcome: str = "false"):
            created = ts(min(due - 3 * DAY, now - 60)) if due > 3 * DAY else ts(due)
            if done:
                return (self.new_id(Timer), kind, subject_id, ts(due), ts(due + 1), outcome, 0, None, "", created)
            return (self.new_id(Timer), kind, subject_id, ts(due), None, "", 0, None, "", created)

        sla, expiry = Timer.Kind.APPROVAL_SERVICE_LEVEL.value, Timer.Kind.QUOTE_EXPIRY.value
        passive, inactivity = Timer.Kind.PASSIVE_ACCEPTANCE.value, Timer.Kind.OPPORTUNITY_INACTIVITY.value
        for r, *_ in self.all_requests():
            deadline = (r.submitted_t // DAY + 6) * DAY
            if deadline < now:
                yield timer(sla, r.id, deadline, True, "true" if r.state == "pending" else "false")
            elif r.state == "pending":
                yield timer(sla, r.id, deadline, False)
        for ps in self.pss:
            for q in ps.quotes:
                if q.sent_t is None:
                    continue
                at = (q.valid_d + 1) * DAY
                if at < now:
                    yield timer(expiry, q.id, at, True, "true" if q.state == "expired" else "false")
                elif q.state == "sent":
                    yield timer(expiry, q.id, at, False)
        for p in self.projects:
            request = getattr(p, "completion_request", None)
            if request is None:
                continue
            at = (request.sent_t // DAY + 7) * DAY
            if at < now and request.state != "pending":
                yield timer(passive, request.id, at, True, "true" if request.state == "passive" else "false")
            elif at >= now:
                yield timer(passive, request.id, at, False)
        for o in self.opps:
            if o.stage in ("1-discovery", "2-scoping"):
                warn, close = INACTIVITY[o.segment]
                at = o.last_t + (close if o.warned_t else warn) * DAY
                if at > now:
                    yield timer(inactivity, o.id, at, False)

    # --- the timeline ---------------------------------------------------------------------------------------------

    def events(self):
        """Every timeline event of the chain, as the services record them: (essential, t, actor, actor label, verb,
        message, subject type, subject id, thread, data). The essential ones (the steps the dashboards time, each
        money move) are always kept; the others are thinned to the wanted total."""
        from psops.billing.services import reminder_sent

        ct, name, now = self.ct, self.name, self.now_t
        empty = "{}"

        def customer(c: Obj) -> str:
            return f"customer {c.name} <{c.email}>"

        labels = {code: rule["label"] for code, rule in self.rules.items()}
        outcome_label = {"approve": "Approve", "needs-discovery": "Needs discovery", "reject": "Reject"}
        for o in self.opps:
            th, owner, who = o.thread, o.owner, name[o.owner]
            yield (True, o.created_t, owner, "", "opportunity.created", f"{who} created the opportunity",
                   ct["opportunity"], o.id, th, empty)
            if o.stage != "0-pending-acceptance":
                yield (False, min(o.created_t + DAY, o.stage_t), owner, "", "opportunity.stage",
                       f"{who} moved the deal from 0-Pending Acceptance to 2-Scoping", ct["opportunity"], o.id, th,
                       '{"from": "0-pending-acceptance", "to": "2-scoping", "reason": ""}')
            if o.stage not in ("0-pending-acceptance", "2-scoping"):
                yield (False, o.stage_t, owner, "", "opportunity.stage",
                       f"{who} moved the deal from 2-Scoping to {OPP_LABEL[o.stage]}", ct["opportunity"], o.id, th,
                       json.dumps({"from": "2-scoping", "to": o.stage, "reason": ""}))
            if o.warned_t:
                idle = (o.warned_t - o.last_t) // DAY
                yield (False, o.warned_t, None, "system", "opportunity.inactivity_warning",
                       f"No activity for {idle} days; the deal closes as lost at day {INACTIVITY[o.segment][1]}",
                       ct["opportunity"], o.id, th, empty)
        for _, kind, _, subject_ct, sid, t, author, opp, _ in self.messages:
            yield (False, t, author, "", f"message.{kind}", f"{name[author]} posted a "
                   f"{'comment' if kind == 'comment' else 'discovery question'}", subject_ct, sid, opp.thread, empty)
        for rom in self.roms:
            th = rom.opp.thread
            v1 = rom.versions[0]
            yield (True, rom.created_t, v1.by, "", "rom.created",
                   f"{name[v1.by]} built ROM-{rom.id} ({rom.template}) v1: USD {shown(v1.est.low)} - "
                   f"{shown(v1.est.high)}", ct["rom"], rom.id, th, '{"version": 1}')
            for v in rom.versions[1:]:
                yield (False, v.created_t, v.by, "", "rom.revised",
                       f"{name[v.by]} revised ROM-{rom.id} to v{v.number}: USD {shown(v.est.low)} - "
                       f"{shown(v.est.high)}", ct["rom"], rom.id, th, json.dumps({"version": v.number}))
            if rom.approved is not None:  # the ROM's own line when its request is approved (it ends the step)
                last = rom.requests[-1].decisions[-1]
                yield (True, last.t + 1, last.approver, "", "rom.approved",
                       f"ROM approved: USD {shown(rom.approved.est.low)} to {shown(rom.approved.est.high)}",
                       ct["rom"], rom.id, th, empty)
        for r, *_ in self.all_requests():
            th = r.opp.thread
            asked = ", ".join(labels[c] for c in r.codes)
            yield (True, r.submitted_t, r.submitter, "", "approval.requested",
                   f"{name[r.submitter]} asked for approval ({asked}) under policy v1", ct["approvalrequest"], r.id,
                   th, json.dumps({"policy": 1, "requirements": r.codes}))
            for d in r.decisions:
                said = ", ".join(labels[c] for c in d.codes)
                comment = getattr(d, "comment", "")
                yield (True, d.t, d.approver, "", f"approval.{d.outcome}",
                       f"{name[d.approver]} decided '{outcome_label[d.outcome]}' for {said}"
                       + (f": {comment}" if comment else ""), ct["approvalrequest"], r.id, th,
                       json.dumps({"outcome": d.outcome, "requirements": d.codes}))
        for ps in self.pss:
            yield from self.ps_events(ps)
        for p in self.projects:
            yield from self.project_events(p)
        yield from self.invoice_events()
        for c in self.cases:
            p = c.p
            th = p.ps.opp.thread
            yield (False, c.opened_t, p.engineers[0], "", "collection.opened", "Collections opened",
                   ct["collectioncase"], c.id, th, empty)
            for a in c.actions:
                fin = self.pools["finance"][c.id % len(self.pools["finance"])]
                yield (False, a.t, fin, "", "collection.reminder", reminder_sent(name[fin], a.level),
                       ct["collectioncase"], c.id, th, empty)
            if c.state == "closed":
                yield (False, c.closed_t, None, "system", "collection.closed",
                       "Collection closed: nothing left to collect", ct["collectioncase"], c.id, th, empty)
        del now

    def ps_events(self, ps: Obj):
        ct, name = self.ct, self.name
        th, owner = ps.opp.thread, ps.opp.owner
        who = name[owner]
        empty = "{}"
        yield (False, ps.created_t, owner, "", "ps_opportunity.created",
               f"{who} created PS opportunity '{ps.name}' with PS amount USD {shown(ps.rom.versions[0].est.high)}",
               ct["psopportunity"], ps.id, th, json.dumps({"ps_amount": money(ps.rom.versions[0].est.high)}))
        steps = []
        reached = ps.stage if ps.stage != "closed-lost" else ps.stage_before_loss
        order = PS_OPEN_ORDER + ["closed-won"]
        at = {"approved": ps.approved_t, "quoted": ps.q_sent, "quote-accepted": ps.q_accepted,
              "sow-out": ps.sow_sent, "sow-signed": ps.sow_signed, "closed-won": ps.won_t}
        if reached in order:
            for k in range(1, order.index(reached) + 1):
                steps.append((order[k - 1], order[k], at[order[k]]))
        for frm, to, t in steps:
            yield (False, t, owner, "", "ps_opportunity.stage", f"PS stage {STAGE_LABEL[frm]} -> {STAGE_LABEL[to]}",
                   ct["psopportunity"], ps.id, th, json.dumps({"from": frm, "to": to}))
        if ps.stage == "closed-lost":
            yield (False, ps.closed_t, owner, "", "ps_opportunity.lost", f"{who} closed '{ps.name}' as lost: {ps.loss}",
                   ct["psopportunity"], ps.id, th, json.dumps({"reason": ps.loss}))
        for q in ps.quotes:
            code = f"Q-{q.id:05d}"
            yield (False, q.created_t, owner, "", "quote.created", f"{who} built {code}: USD {shown(q.total)}",
                   ct["quote"], q.id, th, empty)
            if q.state != "draft":
                yield (False, q.created_t + HOUR, owner, "", "quote.submitted",
                       f"{who} submitted {code}" + ("" if q.request else "; no approval needed"), ct["quote"], q.id,
                       th, empty)
            if q.sent_t:
                yield (True, q.sent_t, owner, "", "quote.sent", f"{who} sent {code} to {q.contact.name} "
                       f"<{q.contact.email}>", ct["quote"], q.id, th, empty)
            if q.state == "accepted":
                yield (True, q.answered_t, None, f"customer {q.contact.name} <{q.contact.email}>", "quote.accepted",
                       f"customer {q.contact.name} <{q.contact.email}> accepted {code}", ct["quote"], q.id, th,
                       '{"ip": "203.0.113.7"}')
            elif q.state == "declined":
                yield (False, q.answered_t, None, f"customer {q.contact.name} <{q.contact.email}>", "quote.declined",
                       f"customer {q.contact.name} <{q.contact.email}> declined {code}", ct["quote"], q.id, th, empty)
            elif q.state == "expired":
                yield (False, q.answered_t, None, "system", "quote.expired",
                       f"{code} expired unanswered on {self.ds(q.valid_d)}", ct["quote"], q.id, th, empty)
        s = ps.sow
        if s is not None:
            code = f"SOW-{s.id:05d} v1"
            yield (True, s.created_t, s.author, "", "sow.created", f"{name[s.author]} started {code} from "
                   f"Q-{s.quote.id:05d}", ct["sow"], s.id, th, empty)
            if s.state != "draft":
                yield (False, ps.sow_review, s.author, "", "sow.review_requested",
                       f"{name[s.author]} sent {code} to internal review", ct["sow"], s.id, th, empty)
            if s.state in ("approved", "sent", "signed"):
                yield (False, ps.sow_approved, s.reviewer, "", "sow.approved", f"{name[s.reviewer]} approved {code}",
                       ct["sow"], s.id, th, empty)
            if s.state in ("sent", "signed"):
                yield (False, ps.sow_sent, s.author, "", "sow.sent", f"{name[s.author]} sent {code} to "
                       f"{s.contact.name} <{s.contact.email}> for signature", ct["sow"], s.id, th, empty)
            if s.state == "signed":
                yield (True, ps.sow_signed, None, f"customer {s.contact.name} <{s.contact.email}>", "sow.signed",
                       f"{s.contact.name} ({s.contact.title}) signed {code}", ct["sow"], s.id, th,
                       json.dumps({"hash": s.hash, "ip": "203.0.113.7"}))

    def project_events(self, p: Obj):
        ct, name, ts_ = self.ct, self.name, None
        th = p.ps.opp.thread
        empty = "{}"
        sid, kind = p.id, ct["project"]
        code = f"SOW-{p.sow.id:05d} v1"
        owner, manager, engineer = p.ps.opp.owner, p.manager, p.engineers[0]
        state = p.state
        yield (True, p.created_t, owner, "", "project.created", f"Project created from {code}", kind, sid, th, empty)
        if p.co is not None:
            yield (False, p.co.t, manager, "", "project.change_order",
                   f"{name[manager]} added a change order of USD {shown(p.co.amount)}", kind, sid, th, empty)
        if state == "created":
            return
        yield (False, p.created_t + DAY, manager, "", "project.staffed", f"{name[manager]} assigned {name[engineer]}",
               kind, sid, th, '{"from": "created", "to": "staffed"}')
        if state == "staffed" or (state == "cancelled" and p.cancel_t < p.kickoff_t):
            if state == "cancelled":
                yield (False, p.cancel_t, manager, "", "project.cancelled", f"{name[manager]} cancelled the project",
                       kind, sid, th, empty)
            return
        yield (False, p.kickoff_t, manager, "", "project.kicked-off",
               f"{name[manager]} kicked off the project on {self.ds(p.kickoff_t // DAY)}", kind, sid, th,
               '{"from": "staffed", "to": "kicked-off"}')
        if state == "kicked-off":
            return
        yield (False, p.kickoff_t + DAY, manager, "", "project.in-delivery",
               f"{name[manager]} moved the project into delivery", kind, sid, th,
               '{"from": "kicked-off", "to": "in-delivery"}')
        for tid, day, who, hours in getattr(p, "time_entries", ()):
            yield (True, day * DAY + 17 * HOUR + tid % 3600, who, "", "time.logged",
                   f"{name[who]} logged {hours:.2f} h on {self.ds(day)}", kind, sid, th, empty)
        if state == "cancelled":
            yield (False, p.cancel_t, manager, "", "project.cancelled", f"{name[manager]} cancelled the project",
                   kind, sid, th, empty)
            return
        if state == "on-hold":
            yield (False, min(p.kickoff_t + 20 * DAY, self.now_t - HOUR), manager, "", "project.on-hold",
                   f"{name[manager]} put the project on hold", kind, sid, th, empty)
            return
        if state == "in-delivery":
            return
        contact = p.sow.contact
        yield (False, p.closure_t, engineer, "", "project.closure",
               f"{name[engineer]} asked {contact.name} <{contact.email}> to accept the work as complete", kind, sid,
               th, '{"from": "in-delivery", "to": "closure"}')
        if state == "closure":
            return
        if p.acceptance == "signed":
            yield (True, p.completion_t, None, f"customer {contact.name} <{contact.email}>", "project.completed",
                   f"{contact.name} ({contact.title}) accepted the work as complete", kind, sid, th,
                   '{"from": "closure", "to": "completed"}')
        else:
            yield (True, p.completion_t, None, "system", "project.completed",
                   "Accepted passively: no answer within 5 business days", kind, sid, th,
                   '{"from": "closure", "to": "completed"}')
        if state == "completed":
            return
        yield (False, p.completion_t + DAY, engineer, "", "wrap_up.started",
               f"{name[engineer]} started the financial wrap-up", kind, sid, th, empty)
        for k, label in enumerate(("Project summary sent to the customer",
                                   "Controller, PS manager and accounts payable notified", "Documents up to date",
                                   "Hours and cost against budget recorded")):
            yield (False, p.completion_t + DAY + (k + 1) * HOUR, engineer, "", "wrap_up.checked",
                   f"{name[engineer]} ticked '{label}'", kind, sid, th, empty)
        yield (False, p.completion_t + DAY, owner, "", "sign_off.sent",
               f"{name[owner]} sent the sign-off document to {contact.name} <{contact.email}>", kind, sid, th, empty)
        yield (False, p.signoff_t, None, f"customer {contact.name} <{contact.email}>", "sign_off.signed",
               f"{contact.name} ({contact.title}) signed the sign-off document", kind, sid, th, empty)
        yield (False, p.wrap_t, engineer, "", "project.wrapped-up", f"{name[engineer]} completed the financial wrap-up",
               kind, sid, th, '{"from": "completed", "to": "wrapped-up"}')
        if state == "closed":
            yield (False, p.closed_t, manager, "", "project.closed", f"{name[manager]} closed the project", kind, sid,
                   th, '{"from": "wrapped-up", "to": "closed"}')
        del ts_

    def invoice_events(self):
        ct, name = self.ct, self.name
        kind = ct["invoice"]
        empty = "{}"
        pay = 0
        payments = self.payments
        credits = {k: (cents, t) for k, cents, t in self.credits}
        for k in range(len(self.inv_proj)):
            p = self.projects[self.inv_proj[k]]
            th = p.ps.opp.thread
            iid = self.inv_base + k
            state = self.inv_state[k]
            amount = shown(self.inv_amount[k])
            fin = self.inv_finance[k]
            drafter = p.ps.opp.owner if self.inv_kind[k] == K_SIGNATURE else fin
            yield (False, self.inv_drafted[k], drafter, "", "invoice.drafted",
                   f"Drafted an invoice for {self.invoice_description(k)}: USD {amount}", kind, iid, th,
                   json.dumps({"key": self.invoice_key(k)}))
            if state == S_VOID:
                yield (False, self.inv_drafted[k] + HOUR, fin, "", "invoice.void",
                       f"{name[fin]} voided draft invoice #{iid}: drafted with the wrong amount", kind, iid, th, empty)
                continue
            if state == S_DRAFT:
                continue
            issue = self.inv_issue[k]
            number = f"INV-{iid:05d}"
            yield (True, issue * DAY + 9 * HOUR + iid % 3600, fin, "", "invoice.issued",
                   f"{name[fin]} issued {number}: USD {amount}, due {self.ds(issue + self.inv_net[k])}", kind, iid, th,
                   empty)
            last = None
            while pay < len(payments) and payments[pay][0] == k:
                _, cents, day = payments[pay]
                last = day * DAY + 11 * HOUR + pay % 3600
                yield (True, min(last, self.now_t - 60), fin, "", "invoice.payment",
                       f"{name[fin]} recorded a payment of USD {shown(cents)} on {number}", kind, iid, th,
                       json.dumps({"amount": money(cents)}))
                pay += 1
            if k in credits:
                cents, t = credits[k]
                yield (False, min(t, self.now_t - 60), fin, "", "invoice.credited",
                       f"{name[fin]} issued a credit note for USD {shown(cents)} on {number}", kind, iid, th, empty)
            if state == S_PAID and last is not None:
                yield (False, min(last + 1, self.now_t - 59), fin, "", "invoice.paid", f"{number} is settled", kind,
                       iid, th, empty)

    def rows_events(self):
        from psops.activity.models import TimelineEvent

        rng = random.Random(self.seed + 13)
        essential = secondary = 0
        for event in self.events():
            if event[0]:
                essential += 1
            else:
                secondary += 1
        keep = min(1.0, max(0.0, (self.n["events"] - essential) / max(secondary, 1)))
        self.say(f"  timeline: {essential:,} essential events and {secondary:,} others, {keep:.0%} of those kept")
        start = self.ids(TimelineEvent, essential + secondary).start
        next_id = start
        ts = self.ts
        starts, ends = self.clock_verbs()
        self.clocks: dict[tuple[str, int, int], list] = {}
        for ess, t, actor, label, verb, message, ct, sid, thread, data in self.events():
            if not ess and rng.random() >= keep:
                continue
            yield (next_id, ts(t), label, verb, message[:500], sid, data, actor, ct, thread)
            next_id += 1
            if verb in starts:  # the step clocks the timeline keeps (activity.steps): first start, first end
                key = (starts[verb], ct, sid)
                clock = self.clocks.get(key)
                if clock is None:
                    self.clocks[key] = [t, None, thread]
                elif t < clock[0]:
                    clock[0] = t
            if verb in ends:
                key = (ends[verb], ct, sid)
                clock = self.clocks.get(key)
                if clock is not None and t >= clock[0] and (clock[1] is None or t < clock[1]):
                    clock[1] = t

    @staticmethod
    def clock_verbs() -> tuple[dict[str, str], dict[str, str]]:
        try:
            from psops.activity import steps
        except ImportError:  # a version of the app without step clocks
            return {}, {}
        return dict(steps.STARTED_BY), dict(steps.ENDED_BY)

    def rows_step_clocks(self):
        from psops.activity.models import StepClock

        ts = self.ts
        ids = self.ids(StepClock, len(self.clocks))
        for cid, ((step, ct, sid), (started, ended, thread)) in zip(ids, self.clocks.items(), strict=True):
            yield (cid, step, sid, ts(started), ts(ended) if ended is not None else None,
                   ended - started if ended is not None else None, ct, thread,
                   self.business_days(started, ended) if ended is not None else None)

    # --- the run ------------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        from django.contrib.auth import get_user_model
        from django.db import connection, transaction

        from psops.activity.models import Message, Notification, Thread, TimelineEvent
        from psops.approvals.models import ApprovalRequest, ApprovalRequirement, Decision
        from psops.billing.models import CollectionAction, CollectionCase, CreditNote, Invoice, Payment, WriteOff
        from psops.core.models import Timer
        from psops.crm.models import Account, Contact, Opportunity, PSOpportunity
        from psops.delivery.models import (
            AcceptanceRequest,
            Assignment,
            ChangeOrder,
            MilestoneAcceptance,
            Project,
            TimeEntry,
            WrapUp,
            WrapUpItem,
        )
        from psops.estimating.models import Rom, RomVersion
        from psops.links.models import CustomerLink
        from psops.sales.models import Quote, QuoteLine, Sow, SowMilestone, SowRevision, SowSignature

        start = time.perf_counter()
        say = self.say
        say(f"generating SCALE={self.scale:g} into {database_label()}")
        self.people()
        self.catalogue()
        self.content_types()
        self.plan_accounts()
        self.plan_chains()
        self.plan_projects()
        self.plan_whale()
        self.plan_billing()
        self.plan_collections()
        self.plan_messages()
        planned = time.perf_counter()
        say(f"  planned in {planned - start:.1f} s")
        mentions = Message.mentions.through
        tables = [
            (Account, "id name website created_at owner_id", self.rows_accounts),
            (Contact, "id name email title account_id", self.rows_contacts),
            (Opportunity, "id name amount currency close_date segment stage stage_changed_at last_activity_at "
                          "inactivity_warned_at created_at account_id owner_id solutions_architect_id tam_id",
             self.rows_opportunities),
            (Thread, "id root_id title created_at root_type_id", self.rows_threads),
            (PSOpportunity, "id name ps_amount currency stage loss_reason loss_note closed_at created_at owner_id "
                            "parent_id", self.rows_ps),
            (Rom, "id template status created_at created_by_id opportunity_id ps_opportunity_id approved_version_id "
                  "current_id", self.rows_roms),
            (RomVersion, "id number answers lines flags assumptions currency low high table_versions created_at "
                         "created_by_id rom_id", self.rows_rom_versions),
            (ApprovalRequest, "id kind subject_id facts state submitted_at decided_at title author_id policy_id "
                              "subject_type_id submitted_by_id waiting_roles", self.rows_requests),
            (ApprovalRequirement, "id code label approvers mode approved_roles satisfied request_id",
             self.rows_requirements),
            (Decision, "id outcome requirements comment decided_at approver_id request_id", self.rows_decisions),
            (Quote, "id currency discount_percent billing_terms investment valid_until terms subtotal discount_amount "
                    "total state sent_at answered_at answer_note created_at created_by_id ps_opportunity_id "
                    "rom_version_id sent_to_id policy_id", self.rows_quotes),
            (QuoteLine, "id code description quantity unit_price amount quote_id", self.rows_quote_lines),
            (Sow, "id version title scope deliverables assumptions out_of_scope acceptance_terms currency price "
                  "billing_terms net_days hourly_rate state sent_at created_at author_id ps_opportunity_id quote_id "
                  "reviewed_by_id sent_to_id review_policy_id", self.rows_sows),
            (SowMilestone, "id name amount position sow_id due_date", self.rows_milestones),
            (SowRevision, "id version content content_hash created_at sow_id", self.rows_revisions),
            (SowSignature, "id signed_name signed_title signed_at ip_address user_agent content_hash version "
                           "contact_id sow_id hash_scheme", self.rows_signatures),
            (Project, "id name currency state held_from percent_complete kickoff_date go_live_date completed_date "
                      "acceptance budget_hours created_at engagement_manager_id ps_opportunity_id sow_id",
             self.rows_projects),
            (Assignment, "id created_at assigned_by_id engineer_id project_id", self.rows_assignments),
            (ChangeOrder, "id description amount created_at created_by_id project_id", self.rows_change_orders),
            (AcceptanceRequest, "id kind sent_at passive_at state answered_at signed_name signed_title ip_address "
                                "user_agent note contact_id sent_by_id project_id", self.rows_acceptances),
            (WrapUp, "id started_at actual_hours actual_cost completed_at project_id started_by_id",
             self.rows_wrap_ups),
            (WrapUpItem, "id code label done_at note done_by_id wrap_up_id", self.rows_wrap_up_items),
            (TimeEntry, "id date hours note approved_at billed_key approved_by_id engineer_id project_id",
             self.rows_time_entries),
            (Invoice, "id billing_key number description currency amount net_days state issue_date due_date "
                      "created_at issued_by_id project_id open_balance paid_to_date", self.rows_invoices),
            (MilestoneAcceptance, "id accepted_at contact_id milestone_id project_id",
             self.rows_milestone_acceptances),
            (Payment, "id amount received_on reference created_at invoice_id recorded_by_id", self.rows_payments),
            (CreditNote, "id number amount reason created_at issued_by_id invoice_id", self.rows_credit_notes),
            (WriteOff, "id amount reason state created_at decided_at decided_by_id invoice_id requested_by_id",
             self.rows_write_offs),
            (CollectionCase, "id state reminder_level last_reminder_at disputed opened_at closed_at project_id "
                             "outstanding", self.rows_cases),
            (CollectionAction, "id kind level amount promised_for note created_at by_id case_id",
             self.rows_case_actions),
            (Message, "id kind body subject_id created_at author_id parent_id subject_type_id thread_id",
             self.rows_messages),
            (mentions, "id message_id user_id", self.rows_mentions),
            (Notification, "id kind text subject_id created_at read_at recipient_id subject_type_id",
             self.rows_notifications),
            (CustomerLink, "id subject_id purpose email token_hash expires_at used_at revoked_at created_at "
                           "contact_id subject_type_id", self.rows_links),
            (Timer, "id kind subject_id due_at done_at outcome attempts retry_at last_error created_at",
             self.rows_timers),
            (TimelineEvent, "id created_at actor_label verb message subject_id data actor_id subject_type_id "
                            "thread_id", self.rows_events),
        ]
        step_clock = getattr(__import__("psops.activity.models", fromlist=["StepClock"]), "StepClock", None)
        if step_clock is not None and self.clock_verbs()[0]:  # filled from the events just written
            tables.append((step_clock, "id step subject_id started_at ended_at seconds subject_type_id thread_id "
                                       "business_days", self.rows_step_clocks))
        loader = _loader_class()(say=say)
        models_ = [model for model, _, _ in tables]
        for model in models_:  # every id counter read now: no query may run on the connection while it copies
            if model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField"):
                self.ids(model, 0)
        sqlite = connection.vendor == "sqlite"
        if sqlite:
            connection.ensure_connection()
            with connection.cursor() as cur:
                cur.execute("PRAGMA synchronous = OFF")
                cur.execute("PRAGMA cache_size = -1000000")
            connection.disable_constraint_checking()
        try:
            with transaction.atomic():
                loader.set_aside_for(models_)
                for model, columns, rows in tables:
                    began = time.perf_counter()
                    count = loader.load(model, columns.split(), rows(), self.now)
                    if count >= 100_000 or time.perf_counter() - began > 5:
                        say(f"  {model._meta.db_table}: {count:,} rows in {time.perf_counter() - began:.1f} s")
                loader.put_back()
                loader.reset_sequences([*models_, get_user_model()])
        finally:
            if sqlite:
                connection.enable_constraint_checking()
                with connection.cursor() as cur:
                    cur.execute("PRAGMA synchronous = FULL")
        loaded = time.perf_counter()
        say(f"  loaded {sum(loader.counts.values()):,} rows in {loaded - planned:.1f} s")
        loader.analyze()
        say(f"generated in {time.perf_counter() - start:.0f} s")
        return loader.counts


def _loader_class():
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from dbload import Loader

    return Loader


# The columns the services keep that the generator writes directly.
KEPT = ["balances-kept", "collections-kept", "waiting-kept"]


def check_kept(say=print) -> int:
    """`psops invariants balances-kept collections-kept waiting-kept`: the number of violations (0 when every kept
    balance, collection figure and approval queue is right)."""
    from psops.workflow import invariants

    start = time.perf_counter()
    broken = invariants.violations(KEPT)
    for violation in broken[:10]:
        say(f"  {violation}")
    say(f"invariants {' '.join(KEPT)}: {len(broken)} violation(s), checked in {time.perf_counter() - start:.1f} s")
    return len(broken)


def fill_kept(say=print) -> None:
    """The figures kept on each collection case, filled from the invoices in one UPDATE (as migration billing 0006
    filled them)."""
    from psops.billing.models import CollectionCase
    from psops.billing.selectors import case_figures

    start = time.perf_counter()
    count = CollectionCase.objects.update(**case_figures())
    say(f"  kept figures of {count:,} collection cases in {time.perf_counter() - start:.1f} s")


def build(scale: float, *, seed: int = 1, reset: bool = True, say=print) -> dict[str, int]:
    """Empty the bench database, migrate it, load the demo data, generate at `scale` and check the balances."""
    if not may_reset():  # never into a database of real or development data
        raise SystemExit(f"Refusing to generate into {database_label()}: the benchmark writes only into a database "
                         "whose name contains 'bench' (set DATABASE_URL, e.g. postgres://.../psops_bench).")
    if reset:
        reset_database(say)
    prepare_database(say)
    counts = Generator(scale, seed, say).run()
    fill_kept(say)
    check_kept(say)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=float(os.environ.get("SCALE", "0.01")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reset", action="store_true", help="empty the bench database first (its name must "
                                                             "contain 'bench')")
    args = parser.parse_args(argv)
    setup_django()
    build(args.scale, seed=args.seed, reset=args.reset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
