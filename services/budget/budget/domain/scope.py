"""Who may see and change which organisations (domain §8), as pure functions of the principal.

Org codes come from the gateway's signed principal: an ``icb`` client holds its ICB code, a ``pcn``
client its PCN code, a ``practice_system`` its practice codes, a ``dashboard`` an ICB code or none
(national). A resource outside a principal's scope does not exist for it: reading or writing it by
id is answered 404 by the caller, exactly as for an id that does not exist, and no answer names
another tenant's organisation. A 403 is for an action the principal's kind may not take on a
resource it can see (a PCN approving its own claim, a dashboard writing), or for a body naming an
organisation outside its scope. Lists are filtered.
"""

from __future__ import annotations

from dataclasses import dataclass

from arrs_kit.principal import Principal


@dataclass(frozen=True, slots=True)
class ListScope:
    """The rows of a list a principal sees: all of them, or those matching one of the code sets.

    ``icb_codes`` admits a row of (or belonging to) one of those ICBs; ``pcn_codes`` admits one of
    those PCNs (or, for a list of ICBs, the ICB those PCNs belong to).
    """

    everything: bool = False
    icb_codes: frozenset[str] = frozenset()
    pcn_codes: frozenset[str] = frozenset()


EVERYTHING = ListScope(everything=True)


def _codes(principal: Principal) -> frozenset[str]:
    return frozenset(code.strip().upper() for code in principal.org_codes)


def is_national(principal: Principal) -> bool:
    """Admins and a dashboard bound to no ICB see every organisation."""
    return principal.kind == "admin" or (principal.kind == "dashboard" and not principal.org_codes)


def list_scope(principal: Principal) -> ListScope | None:
    """What the register's lists show this principal; None when it may not list them at all
    (a practice system reads nothing but its own practices)."""
    if is_national(principal):
        return EVERYTHING
    if principal.kind in ("icb", "dashboard"):
        return ListScope(icb_codes=_codes(principal))
    if principal.kind == "pcn":
        return ListScope(pcn_codes=_codes(principal))
    return None


def may_read_pcn(principal: Principal, *, pcn_code: str, icb_code: str) -> bool:
    """A PCN is visible to national principals, to its ICB (and that ICB's dashboard) and to itself."""
    if is_national(principal):
        return True
    if principal.kind in ("icb", "dashboard"):
        return icb_code in _codes(principal)
    if principal.kind == "pcn":
        return pcn_code in _codes(principal)
    return False


def may_read_practice(principal: Principal, *, practice_code: str, pcn_code: str | None, icb_code: str | None) -> bool:
    """A practice is visible to whoever may read the PCN it belongs to, and to a practice system
    bound to it. ``pcn_code``/``icb_code`` are those of its current PCN (or its last one)."""
    if principal.kind == "practice_system":
        return practice_code in _codes(principal)
    if is_national(principal):
        return True
    if pcn_code is None or icb_code is None:
        return False
    return may_read_pcn(principal, pcn_code=pcn_code, icb_code=icb_code)


def may_create_icb(principal: Principal) -> bool:
    return principal.kind == "admin"


def may_manage_pcns(principal: Principal) -> bool:
    """Whether this kind of principal manages any PCN at all (admins and ICBs do)."""
    return principal.kind in ("admin", "icb")


def may_manage_pcn(principal: Principal, *, icb_code: str) -> bool:
    """Create or change a PCN of ``icb_code``, or set its weighted population: an admin, or that ICB."""
    if principal.kind == "admin":
        return True
    return principal.kind == "icb" and icb_code in _codes(principal)


def may_manage_posts(principal: Principal) -> bool:
    """Whether this kind of principal manages any posts at all (admins and PCNs do)."""
    return principal.kind in ("admin", "pcn")


def may_see_holder(principal: Principal, *, icb_code: str) -> bool:
    """Whether a conflict may name the PCN that holds a code (a practice in another PCN): to an admin
    or that PCN's ICB; anyone else learns only that the code is taken."""
    return may_manage_pcn(principal, icb_code=icb_code)


def may_manage_post(principal: Principal, *, pcn_code: str) -> bool:
    """Create or change a post of ``pcn_code``: an admin, or that PCN."""
    if principal.kind == "admin":
        return True
    return principal.kind == "pcn" and pcn_code in _codes(principal)
