"""Tables of this feature (on :data:`evaluation.models.metadata`)."""

from __future__ import annotations
