"""The words a workload record may use, with no I/O but reading this package's own data once.

- ``national_category``, ``mode``, ``status`` and GPAD's ``HCP_TYPE``: the published GP appointments
  data (GPAD) vocabulary (``data/gpad-vocabulary.json``, a copy of ``shared/reference``), matched by
  code or label, case-insensitively, surrounding spaces ignored, and stored as the code.
- ``hcp_role``: ``gp``, ``nurse``, ``other_practice_staff``, ``unknown`` or an ARRS role code of the
  catalogue (``data/arrs-role-codes.json``, a copy of the roles service's seed, checked by a test).
  A role the catalogue adds later is refused here until the copy is refreshed: uploads never call
  the roles service per record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

BASE_HCP_ROLES = ("gp", "nurse", "other_practice_staff", "unknown")
GRAINS = ("week", "month")
ROLE_CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")
_CACHE_LIMIT = 10_000  # distinct spellings remembered per field (codes and labels in a few cases)


class Terms:
    """One field's codes: :meth:`code` answers the code a value names, or None.

    Lookups of a spelling already seen are one dict access (the hot path of a bulk upload)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        pairs = list(pairs)
        self.codes: tuple[str, ...] = tuple(dict.fromkeys(code for code, _ in pairs))
        self._folded: dict[str, str] = {}
        for code, label in pairs:
            self._folded.setdefault(code.casefold(), code)
            self._folded.setdefault(label.casefold(), code)
        self.seen: dict[str, str] = {code: code for code in self.codes}

    def code(self, value: Any) -> str | None:
        if type(value) is not str:
            return None
        found = self.seen.get(value)
        if found is not None:
            return found
        found = self._folded.get(value.strip().casefold())
        if found is not None and len(self.seen) < _CACHE_LIMIT:
            self.seen[value] = found
        return found


@dataclass(frozen=True, slots=True)
class Vocabulary:
    national_category: Terms
    mode: Terms
    status: Terms
    hcp_type: Terms
    """GPAD's ``HCP_TYPE``: GP, Other Practice staff, Unknown."""
    hcp_role: Terms
    """A record's ``hcp_role``: the base roles (and GPAD's labels for them) and every ARRS role code."""
    arrs_roles: frozenset[str]


def build(gpad: dict[str, Any], role_codes: Iterable[str]) -> Vocabulary:
    """The vocabulary from the GPAD reference document and the catalogue's role codes."""

    def pairs(field: str) -> list[tuple[str, str]]:
        return [(entry["code"], entry["label"]) for entry in gpad[field]]

    roles = sorted(role_codes)
    hcp_types = pairs("hcp_type")
    base = [(code, code.replace("_", " ")) for code in BASE_HCP_ROLES]
    return Vocabulary(
        national_category=Terms(pairs("national_category")),
        mode=Terms(pairs("mode")),
        status=Terms(pairs("status")),
        hcp_type=Terms(hcp_types),
        hcp_role=Terms([*base, *hcp_types, *((code, code) for code in roles)]),
        arrs_roles=frozenset(roles),
    )


def _data(name: str) -> Any:
    return json.loads(resources.files("evaluation.workload").joinpath("data", name).read_text("utf-8"))


@cache
def vocabulary() -> Vocabulary:
    """The package's vocabulary, read once."""
    return build(_data("gpad-vocabulary.json"), _data("arrs-role-codes.json")["codes"])


def role_problem(value: Any) -> str:
    """Why ``value`` is not an ``hcp_role``."""
    allowed = "gp, nurse, other_practice_staff, unknown or an ARRS role code"
    if type(value) is not str:
        return f"hcp_role is a string: {allowed}"
    if ROLE_CODE.fullmatch(value.strip().lower()):
        return f"{value.strip().lower()!r} is not a role code of the ARRS catalogue (expected {allowed})"
    return f"hcp_role is {allowed} in snake_case"


def term_problem(field: str, terms: Terms, value: Any) -> str:
    """Why ``value`` is not one of ``terms``."""
    if type(value) is not str:
        return f"{field} is a string, one of the GPAD codes or labels"
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"{shown!r} is not a {field} of the GPAD vocabulary (codes: {', '.join(terms.codes)})"
