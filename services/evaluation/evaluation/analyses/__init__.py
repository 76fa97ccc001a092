"""The analyses: KPI attainment and drift, at-risk posts (and, later, workload shift, true cost, retention)."""
