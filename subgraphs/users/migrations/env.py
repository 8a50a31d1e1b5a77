"""Alembic environment of the users database."""

from common.migrations import run_alembic_env
from subgraphs.users.models import Base

run_alembic_env(Base.metadata)
