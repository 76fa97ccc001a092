"""The ARRS budget service: PCN budgets, the double-entry ledger, posts and monthly reimbursement claims."""
