from arrs_kit.migration_env import run_migrations
from budget.models import metadata

run_migrations(metadata)
