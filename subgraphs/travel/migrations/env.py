"""Alembic environment of the travel database."""

from common.migrations import run_alembic_env
from subgraphs.travel.models import Base

run_alembic_env(Base.metadata)
