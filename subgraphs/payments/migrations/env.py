"""Alembic environment of the payments database."""

from common.migrations import run_alembic_env
from subgraphs.payments.models import Base

run_alembic_env(Base.metadata)
