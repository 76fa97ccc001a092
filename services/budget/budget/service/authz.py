"""Who may see and change which resource (domain §8), each rule in one place: the resource is loaded
once, checked with the rules of :mod:`budget.domain.scope`, and handed on. Routes take them as
dependencies (:mod:`budget.deps`); services receive the authorised row.

A resource outside a principal's scope does not exist for it: 404, the same body as for an id that
does not exist (the detail names no id). A 403 is for an action the principal's kind may not take on
a resource it can see, naming no organisation.

====================  ==============================================  ==========================
rule                  who (besides an admin)                          used for
====================  ==============================================  ==========================
require_icb_creator   nobody                                          adding an ICB
require_pcn_creator   the ICB the body names                          adding a PCN
require_post_creator  the PCN the body names                          adding a post
readable_pcn          its ICB (and that ICB's dashboard), itself      reads of a PCN and its budget
managed_pcn           its ICB                                         the PCN, its population, budget
own_pcn               the PCN itself                                  its workforce plan
readable_post         whoever reads its PCN                           reads of a post
owned_post            its PCN                                         changing it, claiming for it
readable_claim        whoever reads its PCN                           reads of a claim
pcn_claim             its PCN                                         edit, submit, withdraw
icb_claim             its PCN's ICB                                   approve, reject, pay
adjustable_claim      its PCN or its PCN's ICB                        adjusting a paid claim
====================  ==============================================  ==========================
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag
from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden
from budget.domain import scope
from budget.errors import ClaimNotFound, ClaimReturnNotFound, PcnNotFound, PostNotFound
from budget.models import Claim, ClaimReturn, Pcn, Post
from budget.repository import claim_returns as returns_repo
from budget.repository import claims as claims_repo
from budget.repository import posts as posts_repo
from budget.repository import register as register_repo
from budget.service.common import normalise_code

NO_PCN = "No PCN with this code that this client may read."
NO_POST = "No post with this id that this client may read."
NO_CLAIM = "No claim with this id that this client may read."
NO_RETURN = "No claim return with this id that this client may read."


def pcn_etag(pcn: Pcn) -> str:
    return make_etag("pcn", pcn.code, pcn.version)


def list_scope(principal: Principal) -> scope.ListScope:
    """The rows of the lists this principal sees; 403 for those who may not list."""
    visible = scope.list_scope(principal)
    if visible is None:
        raise Forbidden("A practice system reads only its own practices (GET /v1/practices/{practice_code}).")
    return visible


# PCNs


def readable_pcn(session: Session, principal: Principal, code: str, *, for_update: bool = False) -> Pcn:
    """The PCN if this principal may read it; otherwise, as when there is none, 404."""
    pcn = register_repo.get_pcn(session, normalise_code(code), for_update=for_update)
    if pcn is None or not scope.may_read_pcn(principal, pcn_code=pcn.code, icb_code=pcn.icb_code):
        raise PcnNotFound(NO_PCN)
    return pcn


# Bodies that name an organisation: 403 outside the principal's own, whether or not it exists (no
# lookup, so nothing is learnt about it), naming no organisation.


def require_icb_creator(principal: Principal) -> None:
    if not scope.may_create_icb(principal):
        raise Forbidden("Only an admin client may add an ICB.")


def require_pcn_creator(principal: Principal, *, icb_code: str) -> None:
    """An admin, or the ICB the body names (403 for kinds that change no PCN at all)."""
    if not scope.may_manage_pcns(principal):
        raise Forbidden("Only an admin or the PCN's ICB may change a PCN.")
    if not scope.may_manage_pcn(principal, icb_code=icb_code):
        raise Forbidden("An ICB client adds PCNs to its own ICB only.")


def require_post_creator(principal: Principal, *, pcn_code: str) -> None:
    """An admin, or the PCN the body names."""
    if not scope.may_manage_post(principal, pcn_code=pcn_code):
        raise Forbidden("Only an admin or the PCN itself may add its posts.")


def managed_pcn(session: Session, principal: Principal, code: str, *, for_update: bool) -> Pcn:
    """The PCN (locked for this transaction when ``for_update``) that an admin or its ICB changes:
    404 when the principal may not read it, as when there is none; 403 when it may read it but not
    change it (the PCN itself, a dashboard)."""
    pcn = readable_pcn(session, principal, code, for_update=for_update)
    if not scope.may_manage_pcn(principal, icb_code=pcn.icb_code):
        raise Forbidden("Only an admin or the PCN's ICB may change a PCN, its weighted populations or its budget.")
    return pcn


def own_pcn(session: Session, principal: Principal, code: str) -> Pcn:
    """The PCN acting on its own plans (or an admin): 404 outside scope, 403 for its ICB or a dashboard."""
    pcn = readable_pcn(session, principal, code)
    if not scope.may_manage_post(principal, pcn_code=pcn.code):
        raise Forbidden("Only the PCN itself or an admin sets its workforce plan.")
    return pcn


# Posts and claims: whoever may read a post's (or claim's) PCN reads it.


def _readable_by(session: Session, principal: Principal, pcn_code: str) -> tuple[bool, str]:
    """Whether the principal may read the things of ``pcn_code``, and that PCN's ICB."""
    icb_code = register_repo.icb_codes_of_pcns(session, [pcn_code])[pcn_code]
    return scope.may_read_pcn(principal, pcn_code=pcn_code, icb_code=icb_code), icb_code


def readable_post(session: Session, principal: Principal, post_id: int, *, for_update: bool = False) -> Post:
    """The post if this principal may read it; otherwise, as when there is none, 404."""
    post = posts_repo.get_post(session, post_id, for_update=for_update)
    if post is None or not _readable_by(session, principal, post.pcn_code)[0]:
        raise PostNotFound(NO_POST)
    return post


def owned_post(session: Session, principal: Principal, post_id: int, *, for_update: bool, forbidden: str) -> Post:
    """A post its PCN (or an admin) changes or claims for (locked when ``for_update``); 403 with
    ``forbidden`` for one the principal reads but may not act on (its ICB, a dashboard)."""
    post = readable_post(session, principal, post_id, for_update=for_update)
    if not scope.may_manage_post(principal, pcn_code=post.pcn_code):
        raise Forbidden(forbidden)
    return post


def readable_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    claim = claims_repo.get_claim(session, claim_id)
    if claim is None or not _readable_by(session, principal, claim.pcn_code)[0]:
        raise ClaimNotFound(NO_CLAIM)
    return claim


def _claim_for_write(session: Session, principal: Principal, claim_id: int) -> tuple[Claim, str]:
    """The claim, locked, if the principal may read it (404 otherwise), and its PCN's ICB."""
    found = claims_repo.lock_with_icb(session, claim_id)
    if found is None:
        raise ClaimNotFound(NO_CLAIM)
    claim, icb_code = found
    if not scope.may_read_pcn(principal, pcn_code=claim.pcn_code, icb_code=icb_code):
        raise ClaimNotFound(NO_CLAIM)
    return found


def pcn_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    """A claim its PCN (or an admin) acts on, locked."""
    claim, _ = _claim_for_write(session, principal, claim_id)
    if not scope.may_manage_post(principal, pcn_code=claim.pcn_code):
        raise Forbidden("Only the claim's PCN or an admin may do this.")
    return claim


def icb_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    """A claim its PCN's ICB (or an admin) decides on, locked."""
    claim, icb_code = _claim_for_write(session, principal, claim_id)
    if not scope.may_manage_pcn(principal, icb_code=icb_code):
        raise Forbidden("Only the PCN's ICB or an admin approves, rejects or pays claims.")
    return claim


def adjustable_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    """A paid claim its PCN, its PCN's ICB or an admin corrects, locked."""
    claim, icb_code = _claim_for_write(session, principal, claim_id)
    if not (
        scope.may_manage_post(principal, pcn_code=claim.pcn_code) or scope.may_manage_pcn(principal, icb_code=icb_code)
    ):
        raise Forbidden("Only the claim's PCN, its ICB or an admin adjusts a paid claim.")
    return claim


# Monthly claim returns: scoped as their PCN's claims.


def readable_return(session: Session, principal: Principal, return_id: int, *, for_update: bool = False) -> ClaimReturn:
    """The return if this principal may read its PCN; otherwise, as when there is none, 404."""
    found = returns_repo.get_return(session, return_id, for_update=for_update)
    if found is None or not _readable_by(session, principal, found.pcn_code)[0]:
        raise ClaimReturnNotFound(NO_RETURN)
    return found


def pcn_return(session: Session, principal: Principal, return_id: int) -> ClaimReturn:
    """A return its PCN (or an admin) declares and submits, locked."""
    found = readable_return(session, principal, return_id, for_update=True)
    if not scope.may_manage_post(principal, pcn_code=found.pcn_code):
        raise Forbidden("Only the return's PCN or an admin may do this.")
    return found


def icb_return(session: Session, principal: Principal, return_id: int) -> ClaimReturn:
    """A return its PCN's ICB (or an admin) decides and pays, locked."""
    found = readable_return(session, principal, return_id, for_update=True)
    if not scope.may_manage_pcn(principal, icb_code=_readable_by(session, principal, found.pcn_code)[1]):
        raise Forbidden("Only the PCN's ICB or an admin approves, rejects or pays a return.")
    return found


def adjusting_pcn(session: Session, principal: Principal, code: str) -> Pcn:
    """A PCN whose paid claims its PCN, its ICB or an admin adjusts (an uplift): 404 outside scope,
    403 for a dashboard or practice system that reads it."""
    pcn = readable_pcn(session, principal, code)
    if not (
        scope.may_manage_post(principal, pcn_code=pcn.code) or scope.may_manage_pcn(principal, icb_code=pcn.icb_code)
    ):
        raise Forbidden("Only the PCN, its ICB or an admin applies an uplift to its paid claims.")
    return pcn
