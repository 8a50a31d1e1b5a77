"""What a browser gets on a subgraph's GET /graphql: a pointer to the router's GraphiQL.

Strawberry's own GraphiQL page loads its scripts from a CDN (offline it stays on
"Loading…") and would only show one subgraph, without the others' types or the
router's handling of tokens and subscriptions. Developers explore the API where
clients meet it: the router's bundled GraphiQL (router/graphiql.ts).
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse


def router_graphiql_url(request: Request, router_port: int) -> str:
    """The router on the host the browser used for this subgraph (dev and containers alike)."""
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{request.url.scheme}://{host}:{router_port}/graphql"


def router_graphiql_pointer(request: Request, *, subgraph: str, router_port: int) -> HTMLResponse:
    url = escape(router_graphiql_url(request, router_port), quote=True)
    name = escape(subgraph)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>looklook {name} subgraph</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The {name} subgraph</h1>
<p>Explore the API in GraphiQL on the router: <a href="{url}">{url}</a>.
It has every subgraph's types, the docs, and subscriptions with your token
(Headers: <code>{{"Authorization": "Bearer &lt;token&gt;"}}</code>).</p>
<p>This subgraph answers GraphQL over POST at this address for the router.</p>
</body></html>
"""
    return HTMLResponse(page)
