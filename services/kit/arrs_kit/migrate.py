"""Alembic, driven from code: every service keeps its environment in ``<package>/migrations``."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from arrs_kit.settings import normalise_database_url


def migrations_dir(package: str) -> Path:
    """``<package>/migrations``, found beside the package's ``models`` module.

    (Not ``importlib.resources.files(package)``: run from the repository root, the top-level
    ``gateway/`` folder shadows the installed ``gateway`` package as a namespace package.)
    """
    models = importlib.import_module(f"{package}.models")
    assert models.__file__ is not None
    return Path(models.__file__).parent / "migrations"


def alembic_config(package: str, url: str) -> Config:
    """An Alembic config for ``package``'s migrations against ``url``."""
    location = migrations_dir(package)
    config = Config()
    config.set_main_option("script_location", str(location))
    # ConfigParser interpolation: a literal % in a URL (an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(package: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, url), revision)


def downgrade(package: str, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(package, url), revision)


def check(package: str, url: str) -> None:
    """Raise when the models and the migrated database disagree (``alembic check``)."""
    command.check(alembic_config(package, url))


def heads(package: str) -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(package, "sqlite://")).get_heads())
