"""Request and response bodies of the budget service (``XCreate``/``XUpdate``/``XPublic``), one module
per feature; shared types in :mod:`budget.schemas.common`."""
