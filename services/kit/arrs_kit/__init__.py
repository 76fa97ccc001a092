"""Shared plumbing used the same way by every ARRS app. It owns no tables and imports no service."""
