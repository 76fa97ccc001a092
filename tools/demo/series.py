"""Each practice's weekly appointments and monthly list sizes, generated with no I/O (seeded per practice,
so a practice's series never depends on which others are generated with it or in what batches).

Per practice and week ``w`` (a Monday), with ``L`` the practice's registered list in the month ``w``
starts in:

    gp_rate(w) = practice level + trend(w) + holidays(w) + effect(w) + noise,   noise ~ N(0, 1)
    GP attended appointments ~ Poisson(gp_rate(w) × L / 1000)

``trend`` is one curve every practice shares (winter higher, a slow rise); ``holidays`` takes
:data:`HOLIDAY_PER_1000` off for each bank holiday in the week, at every practice alike; ``effect`` is
``-EFFECT_PER_1000`` at the practices a post of :data:`~tools.demo.generate.EFFECT_ROLE` serves, from the
week after the post's start week to the week it leaves in. GP attended appointments are split by
national category and mode; GP DNAs, nurses' and other practice staff's appointments come on top, and
each ARRS post in post adds its own role's attended appointments (its appointments per WTE per week,
shared among the practices it serves). Records with no appointments are left out, as in GPAD.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from tools.demo.generate import (
    EFFECT_PER_1000,
    EFFECT_ROLE,
    FIRST_MONTH,
    FIRST_WEEK,
    MONTHS,
    WEEKS,
    Post,
    Practice,
    _rng,
    list_size_at,
    month_index,
)

BANK_HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in (
        "2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-28",
        "2023-12-25", "2023-12-26", "2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27",
        "2024-08-26", "2024-12-25", "2024-12-26", "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05",
        "2025-05-26",
    )
)  # fmt: skip
HOLIDAY_PER_1000 = 11.0
GP_SPLIT = (  # (national category, mode, share of face-to-face or of remote GP appointments)
    ("general_consultation_routine", "face_to_face", 0.65),
    ("general_consultation_acute", "face_to_face", 0.35),
    ("clinical_triage", "telephone", 0.5),
    ("general_consultation_routine", "telephone", 0.42),
    ("general_consultation_routine", "video_online", 0.08),
)
NURSE_SPLIT = (("planned_clinics", "face_to_face", 0.7), ("planned_clinical_procedure", "face_to_face", 0.3))
OTHER_SPLIT = (("planned_clinical_procedure", "face_to_face", 0.6), ("clinical_triage", "telephone", 0.4))
LINE = (
    '{"practice_code":"%s","grain":"week","period_start":"%s","hcp_role":"%s",'
    '"national_category":"%s","mode":"%s","status":"%s","appointments":%d}\n'
)


def weeks() -> list[date]:
    return [FIRST_WEEK + timedelta(days=7 * w) for w in range(WEEKS)]


def trend(week: date) -> float:
    """What every practice shares, per 1,000 patients: higher in winter, rising slowly, less in a week
    with bank holidays."""
    season = 3.5 * math.cos(2 * math.pi * (week.timetuple().tm_yday - 20) / 365.25)
    holidays = sum(week + timedelta(days=d) in BANK_HOLIDAYS for d in range(7))
    return season + 0.02 * (week - FIRST_WEEK).days / 7 - HOLIDAY_PER_1000 * holidays


def effect(week: date, posts: Iterable[Post]) -> float:
    """The known effect at a practice in a week: ``-EFFECT_PER_1000`` for each post of the effect role
    serving it that started before this week (in the week after its start week or later) and had not
    left before it."""
    total = 0.0
    for post in posts:
        if post.role_code != EFFECT_ROLE:
            continue
        start_week = post.start_date - timedelta(days=post.start_date.weekday())
        if week > start_week and (post.leave_date is None or week <= post.leave_date):
            total -= EFFECT_PER_1000
    return total


def list_sizes(practice: Practice) -> list[int]:
    return [list_size_at(practice, m) for m in range(MONTHS)]


def list_size_lines(practices: Iterable[Practice]) -> bytes:
    out = []
    for practice in practices:
        for m, patients in enumerate(list_sizes(practice)):
            year, month = FIRST_MONTH.year + m // 12, m % 12 + 1
            out.append(
                f'{{"practice_code":"{practice.code}","month":"{year}-{month:02d}","registered_patients":{patients}}}\n'
            )
    return "".join(out).encode()


@dataclass(frozen=True, slots=True)
class Weeks:
    """One practice's series: GP attended appointments and list size per week, and the expected rate
    (what the counts were drawn from) for checking."""

    practice_code: str
    gp_attended: np.ndarray
    list_size: np.ndarray
    gp_rate: np.ndarray


def _split(rng: np.random.Generator, totals: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return rng.multinomial(totals, p / p.sum())


def practice_lines(seed: int, practice: Practice, posts: Sequence[Post]) -> tuple[str, Weeks]:
    """Every weekly record of the practice as NDJSON lines, and its GP series."""
    rng = _rng(seed, "workload", practice.code)
    days = weeks()
    n = len(days)
    sizes = list_sizes(practice)
    list_size = np.array([sizes[month_index(d)] for d in days], dtype=float)
    common = np.array([trend(d) for d in days])
    injected = np.array([effect(d, posts) for d in days])
    gp_rate = np.maximum(practice.gp_rate + common + injected + rng.normal(0, 1.0, n), 5.0)
    gp = rng.poisson(gp_rate * list_size / 1000)
    f2f = practice.face_to_face
    gp_parts = _split(rng, gp, [s * (f2f if i < 2 else 1 - f2f) for i, (_c, _m, s) in enumerate(GP_SPLIT)])
    dna = rng.poisson(practice.dna_share * gp)
    holiday_share = np.array([1 - 0.2 * sum(d + timedelta(days=k) in BANK_HOLIDAYS for k in range(7)) for d in days])
    nurse = rng.poisson(np.maximum(practice.nurse_rate + 0.4 * common, 5.0) * holiday_share * list_size / 1000)
    nurse_parts = _split(rng, nurse, [s for *_x, s in NURSE_SPLIT])
    nurse_dna = rng.poisson(0.05 * nurse)
    other = rng.poisson(np.maximum(practice.other_rate + 0.3 * common, 5.0) * holiday_share * list_size / 1000)
    other_parts = _split(rng, other, [s for *_x, s in OTHER_SPLIT])
    roles: dict[tuple[str, str, str], np.ndarray] = {}
    for post in posts:
        if post.appointments_per_wte <= 0:
            continue
        active = np.array([post.active(d, d + timedelta(days=6)) for d in days])
        mean = post.appointments_per_wte * post.wte / len(post.practice_codes) * holiday_share * active
        key = (post.role_code, post.category, post.mode)
        roles[key] = roles.get(key, np.zeros(n, dtype=np.int64)) + rng.poisson(mean)
    code = practice.code
    out: list[str] = []
    for w, day in enumerate(days):
        week = day.isoformat()
        for (category, mode, _s), count in zip(GP_SPLIT, gp_parts[w], strict=True):
            if count:
                out.append(LINE % (code, week, "gp", category, mode, "attended", count))
        if dna[w]:
            out.append(LINE % (code, week, "gp", "general_consultation_routine", "face_to_face", "dna", dna[w]))
        for (category, mode, _s), count in zip(NURSE_SPLIT, nurse_parts[w], strict=True):
            if count:
                out.append(LINE % (code, week, "nurse", category, mode, "attended", count))
        if nurse_dna[w]:
            out.append(LINE % (code, week, "nurse", "planned_clinics", "face_to_face", "dna", nurse_dna[w]))
        for (category, mode, _s), count in zip(OTHER_SPLIT, other_parts[w], strict=True):
            if count:
                out.append(LINE % (code, week, "other_practice_staff", category, mode, "attended", count))
        for (role, category, mode), counts in roles.items():
            if counts[w]:
                out.append(LINE % (code, week, role, category, mode, "attended", counts[w]))
    return "".join(out), Weeks(code, gp, list_size, gp_rate)


def workload_lines(seed: int, practices: Iterable[Practice], serving: dict[str, list[Post]]) -> tuple[bytes, int]:
    """The NDJSON body of every weekly record of ``practices``, and how many records it holds."""
    parts = [practice_lines(seed, p, serving.get(p.code, []))[0] for p in practices]
    body = "".join(parts).encode()
    return body, body.count(b"\n")
