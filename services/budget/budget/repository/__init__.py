"""Every query of the budget service, one module per feature. Services call these; nothing else
builds a statement."""
