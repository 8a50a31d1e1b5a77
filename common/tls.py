"""Mutual TLS from the settings: what a subgraph serves with and what its clients present.

The server side requires a client certificate signed by the project's CA
(`ssl.CERT_REQUIRED`): a caller without one fails the TLS handshake before any
HTTP is read, so limits the router enforces cannot be bypassed by calling a
subgraph directly, and the X-Forwarded-For a subgraph reads comes from the router.
"""

from __future__ import annotations

import ssl
from typing import Any

from common.settings import Settings, TlsFiles


class MissingCertificate(RuntimeError):
    """TLS is on but a file of the process's identity is not there."""


def require_files(files: TlsFiles) -> TlsFiles:
    missing = [str(path) for path in (files.ca, files.cert, files.key) if not path.is_file()]
    if missing:
        raise MissingCertificate(
            f"TLS_ENABLED is on but these files are missing: {', '.join(missing)} "
            "(`looklook certs` makes development ones; production mounts its own)"
        )
    return files


def uvicorn_ssl_options(files: TlsFiles) -> dict[str, Any]:
    """uvicorn.Config keywords: serve with our certificate, require one from our CA."""
    require_files(files)
    return {
        "ssl_certfile": str(files.cert),
        "ssl_keyfile": str(files.key),
        "ssl_ca_certs": str(files.ca),
        "ssl_cert_reqs": int(ssl.CERT_REQUIRED),
    }


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """Trust only the project's CA and present this process's certificate."""
    require_files(files)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca))
    context.load_cert_chain(str(files.cert), str(files.key))
    return context


def internal_client_context(settings: Settings, identity: str) -> ssl.SSLContext | None:
    """The context of a process's calls to subgraphs; None while TLS is off."""
    if not settings.tls_enabled:
        return None
    return client_context(settings.tls_files(identity))
