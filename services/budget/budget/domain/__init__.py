"""Pure rules of the budget service, no I/O: the calendar, money, the register, the ledger, who may
do what (scope), the claim state machine and the claim arithmetic. Tested without a database."""
