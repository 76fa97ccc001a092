"""A change counter per PCN over the evaluation data the analyses read (job plans, KPIs, targets,
measurements, readiness): every write of them counts one in its own transaction, so a cached analysis
is known to be current by comparing counters (:mod:`evaluation.analyses.cache`), on every replica.
Bulk uploads (workload records, list sizes) count one change of their kind of data, ``workload``."""
