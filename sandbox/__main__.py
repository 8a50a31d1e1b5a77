"""`python -m sandbox`: serve the WeChat sandbox on settings.host:settings.sandbox_port."""

from __future__ import annotations

import uvicorn

from common.settings import get_settings
from sandbox.app import create_app


def main() -> None:
    """Run until interrupted; quiet logs, since the dev runner multiplexes many processes."""
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.sandbox_port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
