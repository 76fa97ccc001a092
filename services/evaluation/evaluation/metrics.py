"""The evaluation service's own metrics: what bulk uploads (workload, list sizes) bring in and refuse."""

from __future__ import annotations

from arrs_kit.metrics import counter

UPLOADS = counter(
    "arrs_evaluation_uploads",
    "Bulk uploads decided, by kind (workload, list_size) and outcome (merged, invalid, out_of_scope).",
    ("kind", "outcome"),
)
ROWS = counter(
    "arrs_evaluation_ingested_rows",
    "Records of committed uploads, by kind and what became of them (inserted, replaced).",
    ("kind", "outcome"),
)
REFUSED_RECORDS = counter(
    "arrs_evaluation_refused_records",
    "Records of refused uploads that caused the refusal, by kind and reason (invalid, out_of_scope).",
    ("kind", "reason"),
)
