"""The scope rules (domain §8) as a table, without a database."""

from __future__ import annotations

import pytest

from arrs_kit.principal import Principal
from budget.domain import scope

ADMIN = Principal("admin", "a")
ICB = Principal("icb", "i", ("QHM",))
PCN = Principal("pcn", "p", ("U00001",))
PRACTICE = Principal("practice_system", "s", ("A81001", "A81002"))
DASHBOARD = Principal("dashboard", "d", ("QHM",))
NATIONAL = Principal("dashboard", "n")
STRANGER = Principal("robot", "r", ("QHM",))

OWN_PCN = {"pcn_code": "U00001", "icb_code": "QHM"}
SIBLING_PCN = {"pcn_code": "U00002", "icb_code": "QHM"}
FOREIGN_PCN = {"pcn_code": "U00003", "icb_code": "QOX"}


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (ADMIN, scope.EVERYTHING),
        (NATIONAL, scope.EVERYTHING),
        (ICB, scope.ListScope(icb_codes=frozenset({"QHM"}))),
        (DASHBOARD, scope.ListScope(icb_codes=frozenset({"QHM"}))),
        (PCN, scope.ListScope(pcn_codes=frozenset({"U00001"}))),
        (PRACTICE, None),
        (STRANGER, None),
    ],
)
def test_list_scope(principal: Principal, expected: scope.ListScope | None) -> None:
    assert scope.list_scope(principal) == expected


def test_org_codes_are_compared_upper_case() -> None:
    assert scope.list_scope(Principal("icb", "i", ("qhm",))) == scope.ListScope(icb_codes=frozenset({"QHM"}))
    assert scope.may_read_pcn(Principal("pcn", "p", ("u00001",)), **OWN_PCN)


@pytest.mark.parametrize(
    ("principal", "own", "sibling", "foreign"),
    [
        (ADMIN, True, True, True),
        (NATIONAL, True, True, True),
        (ICB, True, True, False),
        (DASHBOARD, True, True, False),
        (PCN, True, False, False),
        (PRACTICE, False, False, False),
        (STRANGER, False, False, False),
    ],
)
def test_who_reads_which_pcn(principal: Principal, own: bool, sibling: bool, foreign: bool) -> None:
    assert scope.may_read_pcn(principal, **OWN_PCN) is own
    assert scope.may_read_pcn(principal, **SIBLING_PCN) is sibling
    assert scope.may_read_pcn(principal, **FOREIGN_PCN) is foreign


@pytest.mark.parametrize(
    ("principal", "manages_any", "own_icb", "other_icb"),
    [
        (ADMIN, True, True, True),
        (ICB, True, True, False),
        (NATIONAL, False, False, False),
        (DASHBOARD, False, False, False),
        (PCN, False, False, False),
        (PRACTICE, False, False, False),
    ],
)
def test_who_changes_pcns(principal: Principal, manages_any: bool, own_icb: bool, other_icb: bool) -> None:
    assert scope.may_manage_pcns(principal) is manages_any
    assert scope.may_manage_pcn(principal, icb_code="QHM") is own_icb
    assert scope.may_manage_pcn(principal, icb_code="QOX") is other_icb


@pytest.mark.parametrize("principal", [ICB, PCN, PRACTICE, DASHBOARD, NATIONAL])
def test_only_admins_add_icbs(principal: Principal) -> None:
    assert scope.may_create_icb(ADMIN)
    assert not scope.may_create_icb(principal)


@pytest.mark.parametrize(
    ("principal", "practice_code", "where", "expected"),
    [
        (ADMIN, "A81001", OWN_PCN, True),
        (ADMIN, "Z99999", {"pcn_code": None, "icb_code": None}, True),
        (NATIONAL, "B82001", FOREIGN_PCN, True),
        (ICB, "A81001", OWN_PCN, True),
        (ICB, "A81003", SIBLING_PCN, True),
        (ICB, "B82001", FOREIGN_PCN, False),
        (DASHBOARD, "A81003", SIBLING_PCN, True),
        (DASHBOARD, "B82001", FOREIGN_PCN, False),
        (PCN, "A81001", OWN_PCN, True),
        (PCN, "A81003", SIBLING_PCN, False),
        (PCN, "A81001", {"pcn_code": None, "icb_code": None}, False),
        (PRACTICE, "A81001", OWN_PCN, True),
        (PRACTICE, "A81002", FOREIGN_PCN, True),  # bound to the practice, wherever it is
        (PRACTICE, "A81003", OWN_PCN, False),
        (STRANGER, "A81001", OWN_PCN, False),
    ],
)
def test_who_reads_which_practice(
    principal: Principal, practice_code: str, where: dict[str, str | None], expected: bool
) -> None:
    assert (
        scope.may_read_practice(
            principal, practice_code=practice_code, pcn_code=where["pcn_code"], icb_code=where["icb_code"]
        )
        is expected
    )


def test_a_bound_principal_without_codes_sees_nothing() -> None:
    empty_icb = Principal("icb", "i")
    assert scope.list_scope(empty_icb) == scope.ListScope()
    assert not scope.may_read_pcn(empty_icb, **OWN_PCN)
    assert not scope.may_manage_pcn(empty_icb, icb_code="QHM")
