"""`custos watch simulate`: access logs of realistic work with insiders harvesting, deterministic.

A world (staff, partner outlets and their users, policies) comes from the current book or is made
here (`synthetic_world`). Each day every staff member works as their position does — agents read
their own customers (a slowly changing working set), customer service works a queue of its branch,
managers browse their teams, operations and back office read a little of their branch, reporting
accounts export at night — and insiders harvest in one of the styles of `STYLES`. Output: one CSV per
day (`access-YYYY-MM-DD.csv`, the access-log format) and `truth.json` naming the insiders, their
style and the days they harvested. Same seed, same world, same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

STYLES = ("bulk", "drift", "export", "partner", "shared_list", "enumerate")
BACK_OFFICE_READS = {"operations": 20, "compliance": 6, "finance": 4}  # a day's reads by position
PRINT_RATE = {"operations": 0.05}  # chance of a day with a batch print
HEADER = ("at", "system", "staff_no", "partner_code", "action", "policy_no", "query", "rows", "terminal")


@dataclass
class Person:
    staff_no: str
    position: (
        str  # the book's position; "partner" for a partner outlet's user; "reporting" for a batch account
    )
    branch_code: str
    channel: str = ""
    supervisor_no: str = ""
    partner_code: str = ""
    reporting: bool = False  # a nightly batch account


@dataclass
class Pol:
    policy_no: str
    agent_no: str
    partner_code: str
    branch_code: str
    channel: str


@dataclass
class World:
    branches: dict[str, str]  # code -> parent code ("" for head office)
    people: list[Person]
    policies: list[Pol]
    partners: dict[str, str] = field(default_factory=dict)  # partner code -> branch code

    def subtree(self, code: str) -> set[str]:
        out, frontier = {code}, {code}
        children: dict[str, list[str]] = {}
        for c, p in self.branches.items():
            children.setdefault(p, []).append(c)
        while frontier:
            frontier = {c for f in frontier for c in children.get(f, [])} - out
            out |= frontier
        return out


def synthetic_world(staff: int, seed: int = 1) -> World:
    """About `staff` staff in 3 provinces × 3 cities, teams of agents under sales managers, one bank
    outlet per city with 3 users, and ~100 policies per agent."""
    rng = random.Random(f"world-{seed}")
    branches = {"HO": ""}
    cities = []
    for p in range(1, 4):
        branches[f"P{p}"] = "HO"
        for c in range(1, 4):
            code = f"P{p}C{c}"
            branches[code] = f"P{p}"
            cities.append(code)
    people: list[Person] = []
    seq = iter(range(1, 10**7))
    n_agents = int(staff * 0.6)
    n_mgr = max(len(cities), n_agents // 8)
    rest = staff - n_agents - n_mgr
    mgrs = []
    for i in range(n_mgr):
        city = cities[i % len(cities)]
        ch = "agency" if i % 3 else "bancassurance"
        m = Person(f"A{next(seq):07d}", "sales_manager", city, ch)
        mgrs.append(m)
        people.append(m)
    for i in range(n_agents):
        m = mgrs[i % len(mgrs)]
        people.append(Person(f"A{next(seq):07d}", "agent", m.branch_code, m.channel, m.staff_no))
    back = [
        ("customer_service", 0.45),
        ("operations", 0.25),
        ("compliance", 0.1),
        ("finance", 0.1),
        ("other", 0.1),
    ]
    for i in range(rest):
        r, acc, pos = rng.random(), 0.0, "other"
        for p, w in back:
            acc += w
            if r < acc:
                pos = p
                break
        people.append(Person(f"E{next(seq):07d}", pos, cities[i % len(cities)]))
    for k in range(2):  # nightly reporting accounts (position it)
        people.append(Person(f"E{next(seq):07d}", "it", "HO" if k == 0 else "P1", reporting=True))
    partners = {}
    for i, city in enumerate(cities):
        code = f"BK{i + 1:03d}"
        partners[code] = city
        for u in range(3):
            people.append(Person(f"{code}-U{u + 1}", "partner", city, "bancassurance", "", code))
    agents = [p for p in people if p.position == "agent"]
    nums = list(range(1, len(agents) * 100 + 1))
    rng.shuffle(nums)
    policies = []
    it = iter(nums)
    for a in agents:
        own_partner = (
            [c for c, b in partners.items() if b == a.branch_code] if a.channel == "bancassurance" else []
        )
        for _ in range(max(5, int(rng.gauss(100, 30)))):
            try:
                n = next(it)
            except StopIteration:
                n = len(nums) + len(policies) + 1
            pc = own_partner[0] if own_partner and rng.random() < 0.8 else ""
            policies.append(Pol(f"P{n:010d}", a.staff_no, pc, a.branch_code, a.channel))
    return World(branches, people, policies, partners)


def world_from_book() -> World:
    """The current book's branches, staff, partner outlets (3 users each, `<code>-U1`…) and policies."""
    from custos.book.models import Branch, Partner, Policy, Staff

    branches = dict(Branch.objects.values_list("branch_code", "parent_code"))
    people = [
        Person(no, pos, br, ch or "", sup or "")
        for no, pos, br, ch, sup in Staff.objects.filter(left_on__isnull=True)
        .order_by("staff_no")
        .values_list("staff_no", "position", "branch_code", "channel", "supervisor_no")
    ]
    for p in [p for p in people if p.position == "it"][:2]:  # two of IT run the nightly reports
        p.reporting = True
    partners = dict(
        Partner.objects.filter(status="active")
        .order_by("partner_code")
        .values_list("partner_code", "branch_code")
    )
    for code, br in partners.items():
        for u in range(3):
            people.append(Person(f"{code}-U{u + 1}", "partner", br, "bancassurance", "", code))
    policies = [
        Pol(no, ag or "", pc or "", br, ch)
        for no, ag, pc, br, ch in Policy.objects.order_by("policy_no").values_list(
            "policy_no", "agent_no", "partner_code", "branch_code", "channel"
        )
    ]
    return World(branches, people, policies, partners)


def install_world(world: World) -> None:
    """Write a synthetic world into the book tables (tests and the demo of an empty installation)."""
    from custos.book.models import BookLoad, Branch, Partner, Policy, Staff

    load = BookLoad.objects.create(source_name="watch-simulate", sha256="0" * 64, status="done")
    row = {"first_load": load, "last_load": load}

    def path(code):
        chain = []
        while code:
            chain.append(code)
            code = world.branches.get(code, "")
        return "/" + "/".join(reversed(chain)) + "/"

    Branch.objects.bulk_create(
        [
            Branch(
                branch_code=c, name=c, parent_code=p, level="head" if not p else "city", path=path(c), **row
            )
            for c, p in world.branches.items()
        ]
    )
    Staff.objects.bulk_create(
        [
            Staff(
                staff_no=p.staff_no,
                name="员工",
                branch_code=p.branch_code,
                channel=p.channel,
                position=p.position,
                supervisor_no=p.supervisor_no,
                **row,
            )
            for p in world.people
            if p.position != "partner"
        ]
    )
    Partner.objects.bulk_create(
        [
            Partner(partner_code=c, name=c, kind="bank", branch_code=b, status="active", **row)
            for c, b in world.partners.items()
        ]
    )
    Policy.objects.bulk_create(
        [
            Policy(
                policy_no=p.policy_no,
                channel=p.channel or "agency",
                branch_code=p.branch_code,
                agent_no=p.agent_no,
                partner_code=p.partner_code,
                status="in_force",
                **row,
            )
            for p in world.policies
        ],
        batch_size=2000,
    )


@dataclass
class Insider:
    staff_no: str
    style: str
    days: list[str] = field(default_factory=list)


class Simulation:
    def __init__(self, world: World, days: int, seed: int, start: dt.date, insiders: int | None = None):
        self.w, self.days, self.seed, self.start = world, days, seed, start
        self.rng = random.Random(f"sim-{seed}")
        self.by_agent: dict[str, list[Pol]] = {}
        self.by_partner: dict[str, list[Pol]] = {}
        self.by_branch: dict[str, list[Pol]] = {}
        for p in world.policies:
            self.by_agent.setdefault(p.agent_no, []).append(p)
            if p.partner_code:
                self.by_partner.setdefault(p.partner_code, []).append(p)
            self.by_branch.setdefault(p.branch_code, []).append(p)
        self.subtree_cache: dict[str, list[Pol]] = {}
        self.team: dict[str, list[str]] = {}
        for p in world.people:
            if p.supervisor_no:
                self.team.setdefault(p.supervisor_no, []).append(p.staff_no)
        self.working: dict[str, list[Pol]] = {}
        self.n_insiders = insiders if insiders is not None else max(len(STYLES), len(world.people) // 100)
        self.insiders: dict[str, Insider] = {}
        self.plans: dict[str, dict] = {}
        self.shared: dict[str, list[Pol]] = {}
        self._choose_insiders()

    # --- who sees what ------------------------------------------------------------------------
    def in_branch(self, code: str) -> list[Pol]:
        if code not in self.subtree_cache:
            pols = []
            for c in sorted(self.w.subtree(code)):
                pols.extend(self.by_branch.get(c, []))
            self.subtree_cache[code] = pols
        return self.subtree_cache[code]

    def _choose_insiders(self) -> None:
        rng = self.rng
        by_pos: dict[str, list[Person]] = {}
        for p in self.w.people:
            by_pos.setdefault(p.position, []).append(p)
        taken: set[str] = set()

        def pick(cands):
            cands = [c for c in cands if c.staff_no not in taken]
            if not cands:
                return None
            c = rng.choice(cands)
            taken.add(c.staff_no)
            return c

        agents = by_pos.get("agent", [])
        big = sorted(agents, key=lambda a: -len(self.by_agent.get(a.staff_no, [])))[
            : max(3, len(agents) // 10)
        ]
        desk = by_pos.get("customer_service", []) + by_pos.get("operations", [])
        pools = {
            "bulk": agents + desk,
            "drift": big,
            "export": desk,
            "partner": [
                p for p in by_pos.get("partner", []) if len(self.by_partner.get(p.partner_code, [])) >= 40
            ],
            "shared_list": [a for a in agents if len(self.team.get(a.supervisor_no, [])) >= 4],
            "enumerate": desk or agents,
        }
        d0 = 21  # harvesting starts after three weeks of ordinary work (the baselines)
        for i in range(self.n_insiders):
            style = STYLES[i % len(STYLES)]
            p = pick(pools[style])
            if p is None:
                continue
            span = max(1, self.days - d0)
            if style == "drift":
                first = d0 + rng.randrange(max(1, span // 3))
                days = list(range(first, min(self.days, first + 35)))
            elif style == "shared_list":
                first = d0 + rng.randrange(max(1, span - 10))
                days = [first + k for k in range(0, 10) if first + k < self.days]
                team = self.team[p.supervisor_no]
                pool = [x for x in self.in_branch(self._province(p.branch_code)) if x.agent_no not in team]
                pool = pool or [x for x in self.w.policies if x.agent_no not in team]
                self.shared[p.supervisor_no] = rng.sample(pool, min(len(pool), 300))
            else:
                first = d0 + rng.randrange(span)
                days = sorted(
                    {min(self.days - 1, first + rng.randrange(0, 10)) for _ in range(rng.randint(1, 3))}
                )
                days = [d for d in days if self._workday(d)] or [self._next_workday(days[0])]
            days = [d for d in days if d < self.days]
            if not days:
                continue
            self.insiders[p.staff_no] = Insider(p.staff_no, style, [self._day(d).isoformat() for d in days])
            self.plans[p.staff_no] = {"style": style, "days": set(days), "first": days[0], "done": set()}

    def _day(self, d: int) -> dt.date:
        return self.start + dt.timedelta(days=d)

    def _next_workday(self, d: int) -> int:
        while not self._workday(d):
            d += 1
        return d

    def _workday(self, d: int) -> bool:
        return self._day(d).weekday() < 5

    # --- one day ------------------------------------------------------------------------------
    def _at(self, d: int, lo: float = 8.5, hi: float = 18.5) -> str:
        h = self.rng.uniform(lo, hi)
        t = dt.datetime.combine(self._day(d), dt.time()) + dt.timedelta(seconds=int(h * 3600))
        return t.isoformat(sep=" ")

    def _row(self, out, at, system, person: Person, action, pol: Pol | None, query="", rows=1):
        out.append(
            (
                at,
                system,
                person.staff_no,
                person.partner_code,
                action,
                pol.policy_no if pol else "",
                query,
                rows,
                f"10.{zlib.crc32(person.staff_no.encode()) % 250}.{len(person.staff_no)}.7",
            )
        )

    def day_rows(self, d: int) -> list[tuple]:
        rng, out = self.rng, []
        work = self._workday(d)
        for p in self.w.people:
            active = rng.random() < (0.93 if work else 0.12)
            if p.reporting:
                self._reporting(out, d, p)
                continue
            if active:
                self._normal(out, d, p)
            plan = self.plans.get(p.staff_no)
            if plan and d in plan["days"]:
                self._harvest(out, d, p, plan)
        out.sort()
        return out

    def _normal(self, out, d, p: Person) -> None:
        """A day of ordinary work, by the book's position (`_work_<position>`, else back office)."""
        getattr(self, f"_work_{p.position}", self._work_back)(out, d, p)

    def _work_agent(self, out, d, p: Person) -> None:
        rng = self.rng
        mine = self.by_agent.get(p.staff_no, [])
        if not mine:
            return
        ws = self.working.get(p.staff_no)
        if ws is None or rng.random() < 0.1:  # the working set moves on now and then
            ws = rng.sample(mine, min(len(mine), max(3, len(mine) // 5)))
            self.working[p.staff_no] = ws
        for _ in range(max(0, int(rng.gauss(8, 3)))):
            pol = rng.choice(ws) if rng.random() < 0.9 else rng.choice(mine)
            self._row(out, self._at(d, 8, 20.5), "sales_app", p, "view", pol)
        if rng.random() < 0.05 and p.supervisor_no in self.team:  # covering for a colleague
            mate = rng.choice(self.team[p.supervisor_no])
            theirs = self.by_agent.get(mate) or mine
            for pol in rng.sample(theirs, min(2, len(theirs))):
                self._row(out, self._at(d), "sales_app", p, "view", pol)
        shared = self.shared.get(p.supervisor_no)
        if shared:  # the team's campaign list: each member works a few of it a day
            for pol in rng.sample(shared, min(len(shared), rng.randint(4, 10))):
                self._row(out, self._at(d), "core", p, "view", pol)

    def _work_sales_manager(self, out, d, p: Person) -> None:
        rng = self.rng
        team_pols = [x for a in self.team.get(p.staff_no, []) for x in self.by_agent.get(a, [])]
        for pol in rng.sample(team_pols, min(len(team_pols), max(0, int(rng.gauss(12, 4))))):
            self._row(out, self._at(d), "sales_app", p, "view", pol)

    def _work_customer_service(self, out, d, p: Person) -> None:
        rng = self.rng
        pool = self.in_branch(p.branch_code)
        for _ in range(max(0, int(rng.gauss(35, 8)))):
            pol = rng.choice(pool) if pool else None
            if pol is None:
                return
            if rng.random() < 0.3:
                q = f"13{rng.randrange(10**9):09d}"
                self._row(out, self._at(d, 8, 20), "cs", p, "search", pol, q, 1)
            else:
                self._row(out, self._at(d, 8, 20), "cs", p, "view", pol)
        if rng.random() < 0.1:
            pol = rng.choice(pool)
            self._row(out, self._at(d), "cs", p, "search", pol, f"{rng.randrange(10**4):04d}", 1)

    def _work_partner(self, out, d, p: Person) -> None:
        rng = self.rng
        pool = self.by_partner.get(p.partner_code, [])
        for pol in rng.sample(pool, min(len(pool), max(0, int(rng.gauss(5, 2))))):
            self._row(out, self._at(d, 9, 17), "partner_portal", p, "view", pol)

    def _work_back(self, out, d, p: Person) -> None:
        rng = self.rng
        pool = self.in_branch(p.branch_code)
        n = BACK_OFFICE_READS.get(p.position, 2)
        for pol in rng.sample(pool, min(len(pool), max(0, int(rng.gauss(n, n / 3))))):
            self._row(out, self._at(d), "core", p, "view", pol)
        rate = PRINT_RATE.get(p.position, 0.0)
        if rate and rng.random() < rate and pool:
            at = self._at(d)
            batch = rng.sample(pool, min(len(pool), rng.randint(10, 40)))
            for pol in batch:
                self._row(out, at, "core", p, "print", pol, "", len(batch))

    def _reporting(self, out, d, p: Person) -> None:
        """A nightly batch account: exports its branch's new business every night."""
        pool = self.in_branch(p.branch_code)
        if not pool:
            return
        at = self._at(d, 1, 3)
        batch = self.rng.sample(pool, min(len(pool), self.rng.randint(200, 400)))
        for pol in batch:
            self._row(out, at, "core", p, "export", pol, "", len(batch))

    def _harvest(self, out, d, p: Person, plan: dict) -> None:
        rng, style = self.rng, plan["style"]
        mine = {x.policy_no for x in self.by_agent.get(p.staff_no, [])}
        if style == "bulk":
            pool = [x for x in self.in_branch(self._province(p.branch_code)) if x.policy_no not in mine]
            for pol in rng.sample(pool, min(len(pool), rng.randint(120, 300))):
                self._row(out, self._at(d, 9, 22), "core", p, "view", pol)
        elif style == "drift":
            own = [x for x in self.by_agent.get(p.staff_no, []) if x.policy_no not in plan["done"]]
            k = min(len(own), 3 + min(7, (d - plan["first"]) // 3))
            for pol in rng.sample(own, k):
                plan["done"].add(pol.policy_no)
                self._row(out, self._at(d, 8, 20), "sales_app", p, "view", pol)
        elif style == "export":
            pool = self.in_branch(self._province(p.branch_code))
            at = self._at(d, 17, 19)
            batch = rng.sample(pool, min(len(pool), rng.randint(300, 1500)))
            for pol in batch:
                self._row(out, at, "core", p, "export", pol, "", len(batch))
        elif style == "partner":
            pool = self.by_partner.get(p.partner_code, [])
            for pol in rng.sample(pool, min(len(pool), rng.randint(40, 120))):
                self._row(out, self._at(d, 9, 17), "partner_portal", p, "view", pol)
        elif style == "shared_list":
            lst = self.shared.get(p.supervisor_no, [])
            for pol in rng.sample(lst, min(len(lst), rng.randint(60, 150))):
                self._row(out, self._at(d), "core", p, "view", pol)
        elif style == "enumerate":
            ordered = sorted(self.w.policies, key=lambda x: x.policy_no)
            i = rng.randrange(max(1, len(ordered) - 200))
            for pol in ordered[i : i + rng.randint(60, 150)]:
                self._row(out, self._at(d, 21.5, 23.9), "core", p, "view", pol)
            for _ in range(rng.randint(5, 15)):
                pol = rng.choice(ordered)
                self._row(
                    out,
                    self._at(d, 21.5, 23.9),
                    "cs",
                    p,
                    "search",
                    pol,
                    f"138****{rng.randrange(10**4):04d}",
                    3,
                )

    def _province(self, code: str) -> str:
        parent = self.w.branches.get(code, "")
        return parent if parent and self.w.branches.get(parent, "") else code

    def write(self, out_dir: Path) -> dict:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files, total = [], 0
        for d in range(self.days):
            rows = self.day_rows(d)
            path = out_dir / f"access-{self._day(d).isoformat()}.csv"
            with path.open("w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(HEADER)
                w.writerows(rows)
            files.append(path.name)
            total += len(rows)
        truth = {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "staff": len(self.w.people),
            "rows": total,
            "files": files,
            "insiders": [asdict(i) for i in self.insiders.values()],
        }
        (out_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
        return truth


def simulate(
    out_dir: Path,
    *,
    days: int,
    seed: int = 1,
    staff: int | None = None,
    synthetic: bool = False,
    start: dt.date = dt.date(2026, 1, 5),
    insiders: int | None = None,
) -> dict:
    world = synthetic_world(staff or 300, seed) if synthetic else world_from_book()
    if not synthetic and staff:
        world = _limit(world, staff)
    if not world.people or not world.policies:
        raise ValueError("the book has no staff or no policies: load a book or use --synthetic")
    return Simulation(world, days, seed, start, insiders).write(out_dir)


def _limit(world: World, staff: int) -> World:
    """The first `staff` people of the book (by staff number), with their policies."""
    people = world.people[:staff]
    keep = {p.staff_no for p in people}
    return World(
        world.branches,
        people,
        [p for p in world.policies if p.agent_no in keep or p.partner_code],
        world.partners,
    )


def measure(truth: dict, alerts: list[dict], active_staff_days: int, grace_days: int = 7) -> dict:
    """Recall (an insider counts as caught when alerted on a day from their first harvesting day to
    `grace_days` after the last) and the alert rate over active staff-days."""
    by_staff: dict[str, list[str]] = {}
    for a in alerts:
        by_staff.setdefault(a["staff_no"], []).append(a["day"])
    caught, missed = [], []
    for ins in truth["insiders"]:
        first = ins["days"][0]
        last = (dt.date.fromisoformat(ins["days"][-1]) + dt.timedelta(days=grace_days)).isoformat()
        hit = any(first <= d <= last for d in by_staff.get(ins["staff_no"], []))
        (caught if hit else missed).append(ins)
    insiders = {i["staff_no"] for i in truth["insiders"]}
    n = len(truth["insiders"])
    return {
        "insiders": n,
        "insider_recall": len(caught) / n if n else None,
        "missed": [{"staff_no": i["staff_no"], "style": i["style"]} for i in missed],
        "alerts": len(alerts),
        "alert_rate": len(alerts) / active_staff_days if active_staff_days else 0.0,
        "false_alerts": sum(1 for a in alerts if a["staff_no"] not in insiders),
        "active_staff_days": active_staff_days,
    }
