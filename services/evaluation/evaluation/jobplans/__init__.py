"""Job plans, KPIs and their measurements, per post."""
