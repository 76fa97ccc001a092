"""Typed clients of the other services (the budget service reads the role catalogue)."""
