"""Rules and transactions of the budget service, one module per resource. Routers call these; these
call the repository.

Each write runs in the request's writer session, checks scope first, locks the row it changes
(``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the database lock from ``BEGIN IMMEDIATE``) and
commits explicitly.
"""
