"""The ARRS gateway."""
