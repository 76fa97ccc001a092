"""Monthly reimbursement claims (domain §6), one module per step:

- :mod:`.compute`: a claim's computation and every check of domain §6 (the arithmetic itself is
  :mod:`budget.domain.claims_math`);
- :mod:`.drafts`: preview, drafts, reads and lists;
- :mod:`.lifecycle`: submit, approve, reject, pay, withdraw, moving the money on the pot
  (:mod:`budget.domain.claim_states`);
- :mod:`.adjustments`: corrections of paid claims;
- :mod:`.presenters`: the public shapes of a claim.

Locks are always taken claim row first, then the pot's balance row, so writers never deadlock.
"""
