# One image for every Python process (subgraphs, workers); the command picks the process.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY common ./common
COPY subgraphs ./subgraphs
COPY workers ./workers
COPY sandbox ./sandbox
RUN uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH" ENV=production HOST=0.0.0.0
# numeric (nobody): Kubernetes can then check runAsNonRoot
USER 65534:65534
# e.g. `looklook serve users`; migrations: `looklook migrate users`
ENTRYPOINT ["looklook"]
