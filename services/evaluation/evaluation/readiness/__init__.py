"""Operating-plan readiness per PCN."""
