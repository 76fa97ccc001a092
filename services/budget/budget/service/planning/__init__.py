"""Planning (domain §6), per PCN and financial year: the forecast (:mod:`.forecast`), the headroom
for a new post (:mod:`.headroom`) and workforce plans (:mod:`.workforce_plans`)."""
