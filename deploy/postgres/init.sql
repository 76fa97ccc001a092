-- One database per service and one for the gateway (its API clients and audit log), owned by
-- POSTGRES_USER (the user the postgres image's entrypoint runs this as). It runs once, when the data
-- volume is first initialised; the migrations create the tables (python -m roles seed,
-- python -m budget migrate, python -m evaluation migrate, python -m gateway migrate). An existing
-- volume does not get a database added here later: create it by hand (deploy/README.md).
CREATE DATABASE roles;
CREATE DATABASE budget;
CREATE DATABASE evaluation;
CREATE DATABASE gateway;
