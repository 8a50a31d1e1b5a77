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
# The bundled WeChat sandbox's APIv3 key (32 bytes, as WeChat requires); refused in production.
_SANDBOX_APIV3_KEY = "sandbox-apiv3-key-0123456789abcd"


class Domain(StrEnum):
    """The subgraphs; each owns one database and one port."""

    USERS = "users"
    TRAVEL = "travel"
    ORDERS = "orders"
    PAYMENTS = "payments"


# Redis connections per client for commands (a burst beyond it waits for a free one).
DEFAULT_REDIS_MAX_CONNECTIONS = 64


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
    # Connections per process for commands; a burst beyond it waits for a free one.
    redis_max_connections: int = Field(default=DEFAULT_REDIS_MAX_CONNECTIONS, gt=0)
    # Payment-status subscriptions one payments process serves at once (one connection each).
    max_live_subscriptions: int = Field(default=1000, gt=0)

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
    # Mini-program subscribe message templates: "payment succeeded" and "refunded".
    wechat_subscribe_template_id: str = "sandbox-payment-success-template"
    wechat_refund_template_id: str = "sandbox-refund-template"

    # WeChat Pay v3 (JSAPI). The defaults are the bundled sandbox's: its key pairs are
    # generated on first start under DATA_DIR/wechatpay, never shipped.
    wechat_pay_mchid: str = "1900000001"
    wechat_pay_appid: str = ""  # empty: the mini-program's appid
    # The APIv3 key is the AES-256-GCM key of notifications: exactly 32 characters.
    wechat_pay_apiv3_key: str = Field(default=_SANDBOX_APIV3_KEY, min_length=32, max_length=32)
    wechat_pay_cert_serial_no: str = "5A4D5F0000SANDBOX0000000000000000000001"
    wechat_pay_private_key_path: Path | None = None  # the merchant's API private key
    wechat_pay_public_key_path: Path | None = None  # WeChat Pay's public key
    wechat_pay_public_key_id: str = "PUB_KEY_ID_0000000000SANDBOX"
    wechat_pay_api_base: str = ""  # empty: WECHAT_API_BASE (the sandbox plays both)
    wechat_pay_notify_url: str = "http://127.0.0.1:4004/wechatpay/notify"
    # WeChat's notifications carry a timestamp; older (or newer) ones are replays.
    wechat_pay_notify_tolerance_seconds: int = Field(default=300, gt=0)

    # Orders: unpaid orders close this many seconds after creation.
    order_pay_timeout: int = Field(default=1200, gt=0)
    # Internal calls between subgraphs (orders asks travel for prices).
    travel_internal_url: str = "http://127.0.0.1:4002/graphql"
    # Payments asks orders for the order to pay and users for the payer's openid.
    orders_internal_url: str = "http://127.0.0.1:4003/graphql"
    users_internal_url: str = "http://127.0.0.1:4001/graphql"
    internal_timeout_seconds: float = 3.0
    internal_retries: int = 2

    # Payments: the reconciler asks WeChat about payments still WAITING (or REFUNDING)
    # this many seconds after they started, in case a notification was lost.
    payment_reconcile_after_seconds: int = Field(default=300, ge=0)
    payment_reconcile_every_seconds: int = Field(default=60, gt=0)

    # Background jobs: Dramatiq broker (redis://… or amqp://…); empty means REDIS_URL.
    broker_url: str = ""
    # How long an idle worker waits between polls of a queue (Dramatiq's worker timeout).
    worker_idle_poll_ms: int = Field(default=100, gt=0, le=1000)
    # Outbox: a row the broker keeps refusing is parked after this many attempts (broker
    # outages do not count); sent rows are deleted once they are this old.
    outbox_max_attempts: int = Field(default=5, gt=0)
    outbox_retention_seconds: int = Field(default=7 * 24 * 3600, gt=0)

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
        if self.env == "production" and self.wechat_pay_apiv3_key == _SANDBOX_APIV3_KEY:
            raise ValueError("WECHAT_PAY_APIV3_KEY must be the merchant's own key in production")
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

    @property
    def pay_appid(self) -> str:
        """The app WeChat Pay charges for: the mini-program unless set apart."""
        return self.wechat_pay_appid or self.wechat_mini_appid

    @property
    def pay_api_base(self) -> str:
        """WeChat Pay's gateway (the SDK's host): the sandbox plays it too by default."""
        return self.wechat_pay_api_base or self.wechat_api_base

    @property
    def pay_keys_dir(self) -> Path:
        """Where the sandbox's generated key pairs live (and the defaults point)."""
        return self.data_dir / "wechatpay"

    @property
    def pay_private_key_path(self) -> Path:
        return self.wechat_pay_private_key_path or self.pay_keys_dir / "merchant_private_key.pem"

    @property
    def pay_public_key_path(self) -> Path:
        return self.wechat_pay_public_key_path or self.pay_keys_dir / "platform_public_key.pem"

    def port(self, domain: Domain) -> int:
        port: int = getattr(self, f"{domain.value}_port")
        return port


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing env)."""
    return Settings()
