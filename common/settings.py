"""Process settings, read once from the environment (and an optional `.env`).

Every backend is one setting with an embedded default, so `make dev` runs with
no configuration while production points the same code at MySQL and Redis.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A development-only secret: production refuses to start with it (see below).
_DEV_JWT_SECRET = "looklook-development-secret-change-me-0123456789"  # noqa: S105


class Domain(StrEnum):
    """The subgraphs; each owns one database and one port."""

    USERS = "users"
    TRAVEL = "travel"
    ORDERS = "orders"
    PAYMENTS = "payments"


class Settings(BaseSettings):
    """All tunables of every process; field names are the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"

    # Databases: one per domain. Empty means the embedded SQLite file data/<domain>.db.
    users_database_url: str = ""
    travel_database_url: str = ""
    orders_database_url: str = ""
    payments_database_url: str = ""
    database_echo: bool = False
    database_pool_size: int = 10

    # Redis: token versions, rate limits, caches, pub/sub. `make dev` starts a
    # bundled server on this address unless REDIS_URL is set in the environment.
    redis_url: str = "redis://127.0.0.1:6380/0"

    # Tokens (PyJWT, HS256 pinned).
    jwt_secret: str = _DEV_JWT_SECRET
    jwt_issuer: str = "looklook"
    access_token_ttl: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, gt=0)

    # Login throttling: attempts per window, per mobile and per client address.
    login_attempts_per_mobile: int = 5
    login_attempts_per_address: int = 30
    login_window_seconds: int = 300
    # Subgraphs sit behind the router, which sets X-Forwarded-For; trust its first hop.
    trust_forwarded_for: bool = True

    # WeChat: mini-program credentials and the API base (the bundled sandbox by default).
    wechat_mini_appid: str = "wx0000000000sandbox"
    wechat_mini_secret: str = "sandbox-mini-secret"  # noqa: S105
    wechat_api_base: str = "http://127.0.0.1:4010"
    wechat_timeout_seconds: float = 5.0

    # Orders: unpaid orders close this many seconds after creation.
    order_pay_timeout: int = Field(default=1200, gt=0)
    # Internal calls between subgraphs (orders asks travel for prices).
    travel_internal_url: str = "http://127.0.0.1:4002/graphql"
    internal_timeout_seconds: float = 3.0
    internal_retries: int = 2

    # Background jobs: Dramatiq broker (redis://… or amqp://…); empty means REDIS_URL.
    broker_url: str = ""

    # Listening addresses.
    host: str = "127.0.0.1"
    router_port: int = 4000
    users_port: int = 4001
    travel_port: int = 4002
    orders_port: int = 4003
    payments_port: int = 4004
    sandbox_port: int = 4010

    # Observability.
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    otel_exporter: Literal["none", "console", "otlp"] = "none"

    # GraphQL limits (also enforced by the router; subgraphs defend themselves).
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env == "production" and (
            self.jwt_secret == _DEV_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            raise ValueError("JWT_SECRET must be set to at least 32 characters in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def database_url(self, domain: Domain) -> str:
        """The SQLAlchemy URL of a domain's database, defaulting to its SQLite file."""
        configured: str = getattr(self, f"{domain.value}_database_url")
        if configured:
            return configured
        return f"sqlite+aiosqlite:///{self.data_dir / f'{domain.value}.db'}"

    def port(self, domain: Domain) -> int:
        port: int = getattr(self, f"{domain.value}_port")
        return port


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing env)."""
    return Settings()
