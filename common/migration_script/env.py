"""Alembic's `env.py` for every domain: runs `subgraphs/<domain>/migrations/env.py`.

Alembic looks for `env.py` and `script.py.mako` in its script directory; this
one is shared so that the revision template exists once. The domain (put in
the config by `common.migrations.alembic_config`) picks the environment.
"""

from common.migrations import run_domain_env

run_domain_env()
