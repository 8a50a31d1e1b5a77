"""Process settings, read once from the environment (and an optional `.env`).

Every backend is one setting with an embedded default, so `make dev` runs with
no configuration while production points the same code at MySQL and Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
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
_DEV_INTERNAL_TOKEN = "looklook-development-internal-token"  # noqa: S105


class Domain(StrEnum):
    """The subgraphs; each owns one database and one port."""

    USERS = "users"
    TRAVEL = "travel"
    ORDERS = "orders"
    PAYMENTS = "payments"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one process's identity (cert-manager's ca.crt, tls.crt, tls.key)."""

    ca: Path
    cert: Path
    key: Path


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
    # bundled server on this address when it is local and nothing answers there.
    redis_url: str = "redis://127.0.0.1:6380/0"
    # Connections per process for commands; a burst beyond it waits for a free one.
    redis_max_connections: int = Field(default=DEFAULT_REDIS_MAX_CONNECTIONS, gt=0)
    # Read caches: seconds a subgraph keeps a value in its own memory in front of Redis
    # (0: off). Changes reach every replica at once over pub/sub; this bounds the rest.
    cache_local_ttl_seconds: float = Field(default=5.0, ge=0)
    # Payment-status subscriptions one payments process serves at once (one connection each).
    max_live_subscriptions: int = Field(default=1000, gt=0)

    # Tokens (PyJWT, HS256 pinned).
    jwt_secret: str = _DEV_JWT_SECRET
    jwt_issuer: str = "looklook"
    access_token_ttl: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, gt=0)

    # Token versions cached in Redis expire after this long (the users database is the
    # source of truth; a missing entry is read again from it).
    token_version_cache_seconds: int = Field(default=24 * 3600, gt=0)

    # Login throttling: attempts per window, per mobile and per client address. An attempt
    # is counted before the password is checked; a successful login clears the mobile's count.
    login_attempts_per_mobile: int = Field(default=5, gt=0)
    login_attempts_per_address: int = Field(default=30, gt=0)
    login_window_seconds: int = Field(default=300, gt=0)
    # Other account mutations, per client address and window.
    register_attempts_per_address: int = Field(default=10, gt=0)
    register_window_seconds: int = Field(default=3600, gt=0)
    wx_mini_auth_attempts_per_address: int = Field(default=30, gt=0)
    wx_mini_auth_window_seconds: int = Field(default=300, gt=0)
    refresh_attempts_per_address: int = Field(default=60, gt=0)
    refresh_window_seconds: int = Field(default=300, gt=0)
    # Password hashes (argon2id, 64 MiB each) one users process computes at once; the rest queue.
    password_hash_concurrency: int = Field(default=2, gt=0)
    # Proxies in front of the subgraphs that append to X-Forwarded-For (the router: 1). The
    # client address is the entry that many from the right; 0 ignores the header. Entries
    # further left are written by the client and never trusted.
    trusted_proxy_hops: int = Field(default=1, ge=0)

    # Booking fairness: orders created per user and window, unpaid orders a user may hold
    # at once, and how far ahead a stay may start.
    order_attempts_per_user: int = Field(default=30, gt=0)
    order_window_seconds: int = Field(default=3600, gt=0)
    max_unpaid_orders_per_user: int = Field(default=3, gt=0)
    booking_horizon_days: int = Field(default=365, gt=0)
    # Check-in codes a landlord may try per window (`redeemCheckInCode`): a landlord types
    # a few per arrival, a script guessing codes is stopped.
    check_in_attempts_per_landlord: int = Field(default=30, gt=0)
    check_in_window_seconds: int = Field(default=900, gt=0)

    # Live subscriptions one user may hold across every payments process, and how often a live
    # subscription re-checks its token (logout also ends it at once, over Redis pub/sub).
    max_live_subscriptions_per_user: int = Field(default=10, gt=0)
    subscription_auth_recheck_seconds: float = Field(default=30.0, gt=0)

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
    # Orders asks payments to settle or close an overdue order's payment; payments asks
    # orders to take a payment (the consistency job).
    payments_internal_url: str = "http://127.0.0.1:4004/graphql"
    internal_timeout_seconds: float = 3.0
    internal_retries: int = 2
    # Shared secret of those internal write calls (header X-Looklook-Internal-Token);
    # the subgraphs refuse them without it. Production refuses the development value.
    internal_token: str = _DEV_INTERNAL_TOKEN

    # Payments: the reconciler asks WeChat about payments still WAITING (or REFUNDING)
    # this many seconds after they started, in case a notification was lost.
    payment_reconcile_after_seconds: int = Field(default=300, ge=0)
    payment_reconcile_every_seconds: int = Field(default=60, gt=0)
    # The consistency job matches every successful payment this old with its order
    # (paid by it, or the money goes back), every so many seconds.
    payment_converge_after_seconds: int = Field(default=120, ge=0)
    payment_converge_every_seconds: int = Field(default=60, gt=0)
    # The scheduler's Prometheus endpoint (consistency and refund gauges); 0 turns it off.
    scheduler_metrics_port: int = Field(default=9192, ge=0)

    # Images on object storage: any S3-compatible store (MinIO, COS, OSS, S3). `make dev`
    # starts the bundled SeaweedFS (`weed mini`) on this endpoint when it is local and
    # nothing answers there. An empty endpoint is AWS S3 itself (by region).
    s3_endpoint_url: str = "http://127.0.0.1:8333"
    s3_region: str = "us-east-1"
    s3_bucket: str = "looklook"
    s3_access_key_id: str = "looklook-dev"
    s3_secret_access_key: str = "looklook-dev-secret"  # noqa: S105
    # "path" (…/bucket/key: MinIO, SeaweedFS) or "virtual" (bucket.host/key: S3, COS, OSS).
    s3_addressing_style: Literal["path", "virtual"] = "path"
    # Where clients PUT uploads: presigned URLs are signed for this address (the store as
    # the internet sees it, when the subgraphs reach it by another name). Empty: the endpoint.
    s3_upload_endpoint_url: str = ""
    # Where readers GET an attached image (a CDN, or the bucket's public address): the URL
    # is this plus "/" and the key. Empty: the upload endpoint's address of the bucket.
    s3_public_base_url: str = ""
    s3_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a presigned upload URL stays usable, and the largest image per purpose.
    image_upload_expiry_seconds: int = Field(default=300, gt=0, le=3600)
    # An upload not attached this long after it was written is deleted (hourly job).
    image_upload_retention_seconds: int = Field(default=86400, ge=3600)
    avatar_max_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    homestay_banner_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    business_cover_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

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
    # How long a subgraph keeps an idle keep-alive connection open. Longer than any
    # client's own idle timeout (the router's is 4-5 s), so the client always closes first:
    # a server closing a connection the client is just reusing gives "socket hang up".
    keep_alive_seconds: int = Field(default=75, gt=0)

    # Service identity (mutual TLS): with TLS on, a subgraph serves GraphQL over HTTPS on
    # its port and accepts only clients with a certificate from TLS_CA_FILE (the router,
    # its peer subgraphs, the background processes). Probes, metrics and the WeChat Pay
    # callback, which callers without such a certificate need, are served on the plain
    # port (never /graphql). Empty files: the `looklook certs` ones under DATA_DIR/certs.
    tls_enabled: bool = False
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    users_plain_port: int = 4101
    travel_plain_port: int = 4102
    orders_plain_port: int = 4103
    payments_plain_port: int = 4104

    # Observability.
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    # Share of new traces recorded (parent-based: a sampled caller's trace is always
    # continued). 1.0 records all; production sets e.g. 0.05 to bound the cost.
    otel_traces_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    # GraphQL limits (also enforced by the router; subgraphs defend themselves).
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    # Request bounds, checked before any parsing (common/limits.py): bigger bodies get 413,
    # deeper JSON 400, so no request can exhaust memory or Python's recursion limit.
    request_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    request_max_json_depth: int = Field(default=32, gt=0)
    # A GraphQL document: its size, and how deeply it nests ({ [ ( and fragment spreads).
    graphql_max_document_bytes: int = Field(default=32 * 1024, gt=0)
    graphql_max_nesting: int = Field(default=40, gt=0)
    # Estimated objects one request may return (page sizes multiplied along the query).
    graphql_max_cost: int = Field(default=5000, gt=0)

    @property
    def tracing_enabled(self) -> bool:
        """Spans are only worth creating when something exports them."""
        return self.otel_exporter != "none"

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env == "production" and (
            self.jwt_secret == _DEV_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            raise ValueError("JWT_SECRET must be set to at least 32 characters in production")
        if self.env == "production" and self.wechat_pay_apiv3_key == _SANDBOX_APIV3_KEY:
            raise ValueError("WECHAT_PAY_APIV3_KEY must be the merchant's own key in production")
        if self.env == "production" and self.internal_token == _DEV_INTERNAL_TOKEN:
            raise ValueError("INTERNAL_TOKEN must be set to a secret of its own in production")
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

    def plain_port(self, domain: Domain) -> int:
        """With TLS on: the port of /healthz, /readyz, /metrics (and WeChat's callback)."""
        port: int = getattr(self, f"{domain.value}_plain_port")
        return port

    @property
    def certs_dir(self) -> Path:
        """Where `looklook certs` writes the development CA and certificates."""
        return self.data_dir / "certs"

    def tls_files(self, identity: str) -> TlsFiles:
        """A process's CA, certificate and key: the TLS_* settings, else its dev files."""
        own = self.certs_dir / identity
        return TlsFiles(
            ca=self.tls_ca_file or own / "ca.crt",
            cert=self.tls_cert_file or own / "tls.crt",
            key=self.tls_key_file or own / "tls.key",
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing env)."""
    return Settings()
