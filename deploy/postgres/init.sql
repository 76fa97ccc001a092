-- One database per service, owned by POSTGRES_USER (the user the postgres image's entrypoint runs
-- this as). It runs once, when the data volume is first initialised; the services' migrations create
-- the tables (python -m roles seed, python -m budget migrate, python -m evaluation migrate).
CREATE DATABASE roles;
CREATE DATABASE budget;
CREATE DATABASE evaluation;
