"""Benchmarks of the platform: ``make bench`` (``python -m bench.run``) writes ``bench/RESULTS.md``."""
