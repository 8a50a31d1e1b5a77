"""Alembic environment of the orders database."""

from common.migrations import run_alembic_env
from subgraphs.orders.models import Base

run_alembic_env(Base.metadata)
