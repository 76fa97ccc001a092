"""The demo's data, generated with no I/O: the same seed, scale and role catalogue give the same data.

What is made (``Scale.national``): the 42 ICBs of England (real codes and names; everything below them
is invented), about 1,250 PCNs in proportion to each ICB's population, about 6,300 practices (ODS-shaped
codes, a letter and five digits), and for each PCN posts of the claimable roles it has, started
between April 2023 and March 2025 with varied hours, some of them since left. Each post's monthly
claims in ``Scale.claim_months``, job plans and KPIs with measurements for a share of the posts and
each PCN's operating-plan readiness are in :mod:`tools.demo.activity`; the weekly workload and list
sizes in :mod:`tools.demo.series`. (This module is over 400 lines because a quarter of it is the role
profiles table, data rather than code.)

Randomness comes from streams named by what they are for (``_rng(seed, "icb", code)``), so an ICB's
data do not depend on how many other ICBs are generated: the ``small`` cut is the national set's
first two ICBs, exactly.

**The known effect**: at every practice a post of :data:`EFFECT_ROLE` serves, GP attended appointments
per 1,000 registered patients per week fall by :data:`EFFECT_PER_1000` (made negative) from the week
after the post's start week for as long as it is in post. Posts of that role in one PCN serve
disjoint practices, so each practice has at most one such change. Every other practice moves only by
its own noise and the trend every practice shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

DEFAULT_SEED = 20250331
EFFECT_ROLE = "clinical_pharmacist"
EFFECT_PER_1000 = 4.0
"""The fall in GP attended appointments per 1,000 patients per week at the practices an
:data:`EFFECT_ROLE` post serves, after its start week."""

POSTS_FROM = date(2023, 4, 1)
POSTS_TO = date(2025, 3, 31)
AS_OF = date(2025, 3, 31)
"""The day the demo describes: the last day of 2024-25 (the scorecards and KPI readings use it)."""
CLAIM_MONTHS = ("2025-01", "2025-02", "2025-03")
FINANCIAL_YEARS = ("2023-24", "2024-25")
FIRST_WEEK = date(2023, 1, 2)
"""Weekly workload runs from this Monday for :data:`WEEKS` weeks: 12 weeks before the first post
starts to 12 weeks after the last one does, so every post has both windows of the analysis."""
WEEKS = 130
FIRST_MONTH = date(2023, 1, 1)
MONTHS = 30  # list sizes: January 2023 to June 2025
WTE_HOURS = 37.5

# (code, name, practice-code letter, population in millions): the 42 ICBs of England, by code.
ICBS: tuple[tuple[str, str, str, float], ...] = (
    ("QE1", "Lancashire and South Cumbria", "P", 1.7),
    ("QF7", "South Yorkshire", "C", 1.4),
    ("QGH", "Herefordshire and Worcestershire", "M", 0.8),
    ("QH8", "Mid and South Essex", "F", 1.2),
    ("QHG", "Bedfordshire, Luton and Milton Keynes", "E", 1.0),
    ("QHL", "Birmingham and Solihull", "M", 1.3),
    ("QHM", "North East and North Cumbria", "A", 3.0),
    ("QJ2", "Derby and Derbyshire", "C", 1.0),
    ("QJG", "Suffolk and North East Essex", "D", 1.0),
    ("QJK", "Devon", "L", 1.2),
    ("QJM", "Lincolnshire", "C", 0.8),
    ("QK1", "Leicester, Leicestershire and Rutland", "C", 1.1),
    ("QKK", "South East London", "G", 1.9),
    ("QKS", "Kent and Medway", "G", 1.9),
    ("QM7", "Hertfordshire and West Essex", "E", 1.5),
    ("QMF", "North East London", "F", 2.1),
    ("QMJ", "North Central London", "F", 1.5),
    ("QMM", "Norfolk and Waveney", "D", 1.1),
    ("QNC", "Staffordshire and Stoke-on-Trent", "M", 1.2),
    ("QNQ", "Frimley", "K", 0.8),
    ("QNX", "Sussex", "H", 1.7),
    ("QOC", "Shropshire, Telford and Wrekin", "M", 0.5),
    ("QOP", "Greater Manchester", "P", 3.0),
    ("QOQ", "Humber and North Yorkshire", "B", 1.7),
    ("QOX", "Bath and North East Somerset, Swindon and Wiltshire", "J", 0.95),
    ("QPM", "Northamptonshire", "K", 0.8),
    ("QR1", "Gloucestershire", "L", 0.65),
    ("QRL", "Hampshire and Isle of Wight", "J", 1.9),
    ("QRV", "North West London", "E", 2.1),
    ("QSL", "Somerset", "L", 0.6),
    ("QT1", "Nottingham and Nottinghamshire", "C", 1.1),
    ("QT6", "Cornwall and the Isles of Scilly", "L", 0.6),
    ("QU9", "Buckinghamshire, Oxfordshire and Berkshire West", "K", 1.8),
    ("QUA", "Black Country", "M", 1.3),
    ("QUE", "Cambridgeshire and Peterborough", "D", 0.95),
    ("QUY", "Bristol, North Somerset and South Gloucestershire", "L", 1.0),
    ("QVV", "Dorset", "J", 0.8),
    ("QWE", "South West London", "H", 1.5),
    ("QWO", "West Yorkshire", "B", 2.4),
    ("QWU", "Coventry and Warwickshire", "M", 1.0),
    ("QXU", "Surrey Heartlands", "H", 1.1),
    ("QYG", "Cheshire and Merseyside", "N", 2.7),
)
NATIONAL_PCNS = 1250
PCN_TARGET_MEDIAN = 40_000
"""With practices of 10,000 patients on average, PCNs of about 50,000: 6,300 practices in 1,250 PCNs."""
SUPPLIERS = (("EMIS", 0.55), ("TPP", 0.40), ("Vision", 0.05))
PRACTICES_PER_FEED = 100
"""A practice-system client (one supplier's feed in one ICB) serves at most this many practices."""


@dataclass(frozen=True, slots=True)
class Scale:
    """How much to make: the first ``icbs`` ICBs of :data:`ICBS`, each with its share of the national
    PCNs (or ``pcns_per_icb`` each), and claims for ``claim_months``."""

    label: str
    icbs: int
    pcns_per_icb: int | None = None
    claim_months: tuple[str, ...] = CLAIM_MONTHS

    @classmethod
    def national(cls) -> Scale:
        return cls("national", len(ICBS))

    @classmethod
    def small(cls) -> Scale:
        return cls("small", 2)


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """What the generator needs of a catalogue role (read from ``GET /v1/roles`` and its template)."""

    code: str
    name: str
    added_on: date
    template: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """How common a role is and what its posts look like (invented, broadly like the scheme's workforce)."""

    prevalence: float  # share of PCNs with any post of the role
    most: int  # posts per PCN at most
    band: str
    salary_pounds: int  # full-time annual salary
    appointments_per_wte: float  # the role's own attended appointments per WTE per week
    category: str = "general_consultation_routine"
    mode: str = "face_to_face"
    employment: tuple[str, ...] = ("pcn_lead_practice", "pcn_lead_practice", "member_practice")


PROFILES: dict[str, Profile] = {
    "clinical_pharmacist": Profile(0.8, 2, "7", 48_500, 45, "structured_medication_review", "telephone"),
    "pharmacy_technician": Profile(0.55, 2, "5", 31_000, 30, "planned_clinics", "telephone"),
    "first_contact_physiotherapist": Profile(0.6, 2, "7", 48_500, 55, "general_consultation_routine"),
    "social_prescribing_link_worker": Profile(
        0.8,
        2,
        "5",
        29_000,
        25,
        "social_prescribing_service",
        "telephone",
        ("pcn_lead_practice", "supplier", "voluntary_sector"),
    ),
    "health_and_wellbeing_coach": Profile(0.4, 1, "5", 29_000, 20, "social_prescribing_service", "telephone"),
    "care_coordinator": Profile(0.75, 3, "4", 25_500, 40, "care_home_needs_assessment", "telephone"),
    "physician_associate": Profile(0.3, 2, "7", 48_500, 60, "general_consultation_acute"),
    "apprentice_physician_associate": Profile(0.05, 1, "5", 29_000, 15, "general_consultation_routine"),
    "paramedic": Profile(0.35, 2, "7", 47_000, 30, "home_visit", "home_visit"),
    "advanced_practitioner": Profile(0.3, 2, "8a", 58_000, 60, "general_consultation_acute"),
    "nursing_associate": Profile(0.25, 1, "4", 26_500, 50, "planned_clinical_procedure"),
    "trainee_nursing_associate": Profile(0.15, 1, "3", 24_000, 25, "planned_clinical_procedure"),
    "mental_health_practitioner_adult": Profile(
        0.5, 1, "6", 40_000, 25, employment=("nhs_trust", "nhs_trust", "federation")
    ),
    "mental_health_practitioner_cyp": Profile(0.15, 1, "7", 48_500, 20, employment=("nhs_trust",)),
    "dietitian": Profile(0.1, 1, "7", 47_000, 25, "planned_clinics"),
    "podiatrist": Profile(0.1, 1, "7", 47_000, 30, "planned_clinics"),
    "occupational_therapist": Profile(0.15, 1, "7", 47_000, 25, "planned_clinics"),
    "general_practice_assistant": Profile(0.3, 1, "4", 25_500, 30, "unplanned_clinical_activity"),
    "digital_transformation_lead": Profile(0.3, 1, "8a", 58_000, 0),
    "enhanced_practice_nurse": Profile(0.15, 1, "7", 48_500, 45, "planned_clinics"),
    "general_medical_practitioner": Profile(0.35, 1, "n/a", 95_000, 90, "general_consultation_acute"),
    "other_direct_patient_care_icb_agreed": Profile(0.05, 1, "6", 40_000, 30, "planned_clinics"),
}
DEFAULT_PROFILE = Profile(0.1, 1, "6", 40_000, 25)
HOURS = ("37.5", "37.5", "37.5", "37.5", "30", "30", "22.5", "24", "18.75", "15", "16", "40")
SURNAMES = (
    "Shah", "Patel", "Smith", "Jones", "Khan", "Williams", "Brown", "Taylor", "Ahmed", "Wilson", "Evans",
    "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Hall", "Clarke", "Okafor", "Nowak", "Murphy",
)  # fmt: skip
PLACES = (
    "Riverside", "Harbour", "Valley", "Moor", "Castle", "Abbey", "Meadow", "Brook", "Parkside", "Millfield",
    "Northgate", "Southfields", "Eastside", "Westway", "Hillside", "Bridgewater", "Oakwood", "Ashby", "Kingsway",
    "Marsh", "Heath", "Forest", "Coastal", "Central", "Lakes", "Downs", "Vale", "Cross", "Fields", "Weald",
)  # fmt: skip
SUPERVISOR_ROLES = ("GP partner", "Clinical director", "Advanced practitioner", "Senior clinical pharmacist")


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A random stream of its own for each purpose: ``_rng(seed, "posts", "U70012")``."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=16).digest()
    return np.random.default_rng([int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)])


@dataclass(slots=True)
class Practice:
    code: str
    pcn_code: str
    icb_code: str
    supplier: str
    list_base: int  # registered patients in January 2023
    list_growth: float  # per month
    gp_rate: float  # GP attended appointments per 1,000 patients per week, before the trend
    nurse_rate: float
    other_rate: float
    dna_share: float
    face_to_face: float  # share of GP appointments face to face


@dataclass(slots=True)
class Post:
    key: str  # "U70012-03": the PCN and the post's number in it (the demo's own name for it)
    pcn_code: str
    icb_code: str
    role_code: str
    role_name: str
    afc_band: str
    hours_per_week: str
    start_date: date
    leave_date: date | None
    employment_model: str
    employer_code: str
    practice_codes: tuple[str, ...]
    supervisor_name: str
    supervisor_role: str
    display_name: str
    funding_share: str | None
    unfunded_costs_monthly_pence: dict[str, int]
    salary_pounds: int
    appointments_per_wte: float
    category: str
    mode: str

    @property
    def wte(self) -> float:
        return float(self.hours_per_week) / WTE_HOURS

    def active(self, first: date, last: date) -> bool:
        """In post on any day of ``first``..``last``."""
        return self.start_date <= last and (self.leave_date is None or self.leave_date >= first)


@dataclass(slots=True)
class Pcn:
    code: str
    name: str
    icb_code: str
    practices: list[Practice]
    weighting: float  # weighted population ÷ registered list
    posts: list[Post] = field(default_factory=list)

    @property
    def practice_codes(self) -> list[str]:
        return [p.code for p in self.practices]


@dataclass(slots=True)
class Icb:
    code: str
    name: str
    pcns: list[Pcn]

    @property
    def practices(self) -> list[Practice]:
        return [p for pcn in self.pcns for p in pcn.practices]


@dataclass(frozen=True, slots=True)
class Feed:
    """A practice-system client: one supplier's feed for some of an ICB's practices."""

    key: str  # "QHM-EMIS-1"
    icb_code: str
    supplier: str
    practice_codes: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.supplier} feed {self.key} (demo)"


@dataclass(slots=True)
class Dataset:
    seed: int
    scale: Scale
    icbs: list[Icb]
    roles: dict[str, RoleInfo]

    @property
    def pcns(self) -> list[Pcn]:
        return [pcn for icb in self.icbs for pcn in icb.pcns]

    @property
    def practices(self) -> list[Practice]:
        return [p for icb in self.icbs for p in icb.practices]

    @property
    def posts(self) -> list[Post]:
        return [post for pcn in self.pcns for post in pcn.posts]

    def feeds(self) -> list[Feed]:
        out = []
        for icb in self.icbs:
            for supplier, _share in SUPPLIERS:
                codes = sorted(p.code for p in icb.practices if p.supplier == supplier)
                for n, first in enumerate(range(0, len(codes), PRACTICES_PER_FEED), start=1):
                    part = tuple(codes[first : first + PRACTICES_PER_FEED])
                    out.append(Feed(f"{icb.code}-{supplier.upper()}-{n}", icb.code, supplier, part))
        return out

    def posts_serving(self) -> dict[str, list[Post]]:
        """The posts that ever served each practice."""
        out: dict[str, list[Post]] = {}
        for post in self.posts:
            for code in post.practice_codes:
                out.setdefault(code, []).append(post)
        return out


def build(seed: int, scale: Scale, roles: Iterable[RoleInfo]) -> Dataset:
    """The whole data set but the weekly series (:mod:`tools.demo.series` makes those on demand)."""
    catalogue = {r.code: r for r in sorted(roles, key=lambda r: r.code)}
    chosen = ICBS[: scale.icbs]
    total_population = sum(population for *_rest, population in ICBS)
    icbs = []
    for index, (code, name, letter, population) in enumerate(chosen):
        n_pcns = scale.pcns_per_icb or max(3, round(NATIONAL_PCNS * population / total_population))
        icbs.append(_icb(seed, index, code, name, letter, n_pcns, catalogue))
    return Dataset(seed=seed, scale=scale, icbs=icbs, roles=catalogue)


def _icb(seed: int, index: int, code: str, name: str, letter: str, n_pcns: int, roles: Mapping[str, RoleInfo]) -> Icb:
    rng = _rng(seed, "icb", code)
    # Each ICB has a block of PCN numbers and of practice numbers of its own: codes never collide, and
    # stay clear of the README walkthroughs' codes (U12345, A81001 and the like).
    pcn_numbers = 70_000 + index * 500 + np.sort(rng.choice(500, size=n_pcns, replace=False))
    practice_numbers = 10_000 + index * 1_500 + rng.permutation(1_500)
    pcns = []
    used = 0
    places = rng.permutation(len(PLACES) * len(PLACES))
    for k in range(n_pcns):
        pcn_code = f"U{pcn_numbers[k]:05d}"
        # A PCN is the practices that together serve its target population (30,000 to 50,000 patients
        # as a rule, a few far larger): practices join until their lists reach it.
        target = float(np.clip(rng.lognormal(np.log(PCN_TARGET_MEDIAN), 0.3), 30_000, 130_000))
        practices: list[Practice] = []
        while sum(p.list_base for p in practices) < target and len(practices) < 20:
            practices.append(_practice(seed, f"{letter}{practice_numbers[used]:05d}", pcn_code, code))
            used += 1
        practices.sort(key=lambda p: p.code)
        first, second = divmod(int(places[k % len(places)]), len(PLACES))
        pcn_name = f"{PLACES[first]} {PLACES[second]} PCN" if first != second else f"{PLACES[first]} PCN"
        pcn = Pcn(pcn_code, pcn_name, code, practices, weighting=float(rng.uniform(0.85, 1.2)))
        pcn.posts = _posts(seed, pcn, roles)
        pcns.append(pcn)
    return Icb(code, name, pcns)


def _practice(seed: int, code: str, pcn_code: str, icb_code: str) -> Practice:
    rng = _rng(seed, "practice", code)
    pick = rng.random()
    supplier = SUPPLIERS[-1][0]
    cumulative = 0.0
    for name, share in SUPPLIERS:
        cumulative += share
        if pick < cumulative:
            supplier = name
            break
    return Practice(
        code=code,
        pcn_code=pcn_code,
        icb_code=icb_code,
        supplier=supplier,
        list_base=int(np.clip(rng.lognormal(np.log(8_800), 0.5), 1_500, 45_000)),
        list_growth=float(rng.normal(0.0012, 0.0015)),
        gp_rate=float(np.clip(rng.normal(55, 7), 30, 85)),
        nurse_rate=float(np.clip(rng.normal(32, 5), 15, 50)),
        other_rate=float(np.clip(rng.normal(28, 6), 10, 50)),
        dna_share=float(rng.uniform(0.03, 0.06)),
        face_to_face=float(rng.uniform(0.55, 0.75)),
    )


GP_ROLE = "general_medical_practitioner"
GP_POT_PER_WEIGHTED_PATIENT = 1.303  # 2024-25, as the platform's funding rates have it
GP_ANNUAL_MAX_POUNDS = 92_462  # from October 2024, as the catalogue has it


def _gp_hours(pcn: Pcn, hours: str) -> str | None:
    """At most the hours whose six months of claims (October to March) use nine tenths of the PCN's
    ARRS GP sum; none below four hours a week."""
    population = float(weighted_population(pcn, "2024-25")[0])
    affordable = 0.9 * GP_POT_PER_WEIGHTED_PATIENT * population / (GP_ANNUAL_MAX_POUNDS / 2) * WTE_HOURS
    chosen = min(float(hours), affordable)
    return None if chosen < 4 else f"{int(chosen * 4) / 4:g}"


def _short_name(role: RoleInfo) -> str:
    return role.name.split("(")[0].split("–")[0].strip()


def _posts(seed: int, pcn: Pcn, roles: Mapping[str, RoleInfo]) -> list[Post]:
    rng = _rng(seed, "posts", pcn.code)
    codes = pcn.practice_codes
    unserved = list(rng.permutation(codes))  # for the effect role: each practice served by one post at most
    posts: list[Post] = []
    size = pcn_list_size(pcn) / 50_000  # larger PCNs have more posts (roles capped at one post: never more)
    for role in roles.values():
        profile = PROFILES.get(role.code, DEFAULT_PROFILE)
        if rng.random() >= min(0.97, profile.prevalence * size**0.5):
            continue
        earliest = max(POSTS_FROM, role.added_on)
        if earliest > POSTS_TO:
            continue
        most = profile.most if profile.most == 1 else max(1, round(profile.most * size))
        for n in range(int(rng.integers(1, most + 1))):
            if role.code == EFFECT_ROLE:
                take = min(int(rng.integers(1, 3)), len(unserved))
                if take == 0:
                    break
                served = tuple(sorted(str(c) for c in unserved[:take]))
                del unserved[:take]
            else:
                served = tuple(
                    sorted(str(c) for c in rng.choice(codes, size=int(rng.integers(1, len(codes) + 1)), replace=False))
                )
            start = earliest + timedelta(days=int(rng.integers(0, (POSTS_TO - earliest).days + 1)))
            leave = None
            if rng.random() < 0.15:
                # Never within its own after-window: a post's evidence is about it being in post.
                leave_at = start + timedelta(days=int(rng.integers(120, 600)))
                leave = leave_at if leave_at < POSTS_TO else None
            model = str(rng.choice(profile.employment))
            employer = {
                "pcn_lead_practice": codes[0],
                "member_practice": served[0],
                "nhs_trust": f"R{rng.integers(10, 99)}",
                "federation": f"Y0{rng.integers(1000, 9999)}",
                "supplier": f"NL{rng.integers(100, 999)}",
                "voluntary_sector": f"NV{rng.integers(100, 999)}",
                "local_authority": f"LA{rng.integers(100, 999)}",
            }[model]
            placeholder = rng.random() < 0.06
            hours: str | None = str(rng.choice(HOURS))
            if role.code == GP_ROLE and hours is not None:
                # The ARRS GP sum (2024-25 only) is small: size the post so October to March fits it.
                hours = _gp_hours(pcn, hours)
            if hours is None:
                break
            costs = {}
            if rng.random() < 0.3:
                costs = {"management_fee": int(rng.integers(5, 40)) * 1000, "training": int(rng.integers(0, 10)) * 1000}
            posts.append(
                Post(
                    key=f"{pcn.code}-{len(posts) + 1:02d}",
                    pcn_code=pcn.code,
                    icb_code=pcn.icb_code,
                    role_code=role.code,
                    role_name=role.name,
                    afc_band=profile.band,
                    hours_per_week=hours,
                    start_date=start,
                    leave_date=leave,
                    employment_model=model,
                    employer_code=employer,
                    practice_codes=served,
                    supervisor_name="TBC"
                    if placeholder
                    else f"Dr {chr(65 + int(rng.integers(0, 26)))} {rng.choice(SURNAMES)}",
                    supervisor_role=str(rng.choice(SUPERVISOR_ROLES)),
                    display_name=f"{_short_name(role)} {n + 1}",
                    funding_share="1.0"
                    if role.code.startswith("mental_health_practitioner") and rng.random() < 0.15
                    else None,
                    unfunded_costs_monthly_pence=costs,
                    salary_pounds=int(profile.salary_pounds * rng.uniform(0.94, 1.06)),
                    appointments_per_wte=profile.appointments_per_wte,
                    category=profile.category,
                    mode=profile.mode,
                )
            )
    return posts


# Budgets.


def list_size_at(practice: Practice, month_index: int) -> int:
    """Registered patients in month ``month_index`` (0: January 2023): the practice's trend, with no
    noise, so a PCN's list size and weighted population agree with the monthly series."""
    return round(practice.list_base * (1 + practice.list_growth) ** month_index)


def month_index(day: date) -> int:
    return (day.year - FIRST_MONTH.year) * 12 + day.month - 1


def pcn_list_size(pcn: Pcn, day: date = date(2025, 1, 1)) -> int:
    return sum(list_size_at(p, month_index(day)) for p in pcn.practices)


def weighted_population(pcn: Pcn, fy: str) -> tuple[str, date]:
    """The weighted population at 1 January before ``fy`` starts, and that date."""
    reference = date(int(fy[:4]), 1, 1)
    return f"{pcn_list_size(pcn, reference) * pcn.weighting:.3f}", reference


# Posts and claims.


def post_body(post: Post) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pcn_code": post.pcn_code,
        "role_code": post.role_code,
        "afc_band": post.afc_band,
        "geography": "national",
        "hours_per_week": post.hours_per_week,
        "start_date": post.start_date.isoformat(),
        "leave_date": post.leave_date.isoformat() if post.leave_date else None,
        "employment_model": post.employment_model,
        "employer_code": post.employer_code,
        "practice_codes": list(post.practice_codes),
        "supervisor": {"name": post.supervisor_name, "role": post.supervisor_role},
        "baseline": False,
        "staff_reference": staff_reference(post),
        "display_name": post.display_name,
    }
    if post.funding_share:
        body["funding_share"] = post.funding_share
    if post.unfunded_costs_monthly_pence:
        body["unfunded_costs_monthly_pence"] = post.unfunded_costs_monthly_pence
    return body


def staff_reference(post: Post) -> str:
    """How the demo finds its post again (a resumed load adopts a post made before it was recorded)."""
    return f"DEMO-{post.key}"
