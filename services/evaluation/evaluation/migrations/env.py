from arrs_kit.migration_env import run_migrations
from evaluation.tables import metadata

run_migrations(metadata)
