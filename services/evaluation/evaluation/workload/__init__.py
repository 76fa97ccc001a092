"""Workload and list sizes posted by practice systems: the bulk hot path."""
