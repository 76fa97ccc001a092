"""The ARRS evaluation service: Job plans, KPIs, workload data and the analyses of whether a role is working."""
