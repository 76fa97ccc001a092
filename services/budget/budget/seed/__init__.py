"""Seed data of the budget service: the reference funding rates (``funding-rates.json``, verbatim)."""
