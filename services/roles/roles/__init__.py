"""The ARRS role catalogue service."""
