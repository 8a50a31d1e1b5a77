"""Which subgraphs exist: each domain with a `subgraphs/<domain>/app.py` is served and composed."""

from __future__ import annotations

from common.settings import PROJECT_ROOT, Domain


def available_domains() -> list[Domain]:
    return [d for d in Domain if (PROJECT_ROOT / "subgraphs" / d.value / "app.py").exists()]


def app_path(domain: Domain) -> str:
    """The uvicorn import string of a domain's ASGI app."""
    return f"subgraphs.{domain.value}.app:app"


def schema_path(domain: Domain) -> str:
    return f"subgraphs.{domain.value}.schema:schema"
