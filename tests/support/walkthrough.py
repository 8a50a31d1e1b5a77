"""Runs the README's walkthroughs: the code blocks a reader copies, in the reader's order.

A walkthrough is a sequence of fenced code blocks whose info string carries the word
`walkthrough` (or `walkthrough:NAME` for another story), interleaved with HTML comments
`<!-- walkthrough[:NAME] DIRECTIVE; DIRECTIVE … -->` that GitHub does not render. Each
step runs in document order:

- ```` ```graphql walkthrough ````: an operation sent to the router by the real GraphQL
  client with the current headers; GraphQL errors fail the step. A `subscription` is
  opened over SSE (as the explorer does) and its first event is the step's result.
- ```` ```json walkthrough ````: what the reader types in the explorer's Headers box;
  later operations send these headers.
- ```` ```sh walkthrough ````: run by bash (`set -euo pipefail`). `localhost:PORT` and
  `127.0.0.1:PORT` of `make dev`'s processes are moved to the test stack's, and
  `uv run CMD` runs CMD from the test's virtualenv. Its result is stdout, as JSON when
  it parses.

Directives (about the previous block's result, a JSON document; a PATH is dotted, with
list indexes: `data.preferredHomestays.edges.0.node.id`):

- `save NAME = PATH`: later blocks' `<NAME>` is replaced by that value.
- `let NAME = today+N`: a date N days from today, China time (`YYYY-MM-DD`); `let NAME
  = TEXT` a literal: what the reader chooses.
- `expect PATH = VALUE` (VALUE as JSON, else as text, `<NAME>` substituted) or `expect
  PATH` (present, not null); `contains TEXT`: the output contains TEXT.
- `until PATH = VALUE`: runs the previous block again until it holds (what becomes true
  in the background: the worker, a message).
- `event PATH = VALUE`: waits until the open subscription yields an event that holds.

A `<NAME>` that was never saved fails the walkthrough, so a README step that refers to
something no earlier step produced cannot slip in.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.graphql import GraphQLClient
from tests.support.subscriptions import LiveSubscription, subscribe_sse

FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
COMMENT = re.compile(r"<!--\s*walkthrough(?::(?P<name>[\w-]+))?\s+(?P<body>.*?)-->", re.S)
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_]*)>")
ADDRESS = re.compile(r"\b(?:localhost|127\.0\.0\.1):(\d{2,5})\b")
DIRECTIVE = re.compile(r"^(?P<verb>save|let|expect|until|event|contains)\b\s*(?P<rest>.*)$", re.S)
CHINA = ZoneInfo("Asia/Shanghai")
DEFAULT = "default"
WAIT_SECONDS = 30.0
# `uv run CMD` is CMD from this virtualenv (on PATH first): the test must not sync one.
SHELL_PRELUDE = """set -euo pipefail
uv() {
  if [ "$1" = run ]; then shift; "$@"; else echo "walkthrough: only 'uv run'" >&2; return 2; fi
}
"""
BASH = shutil.which("bash") or "/bin/bash"


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int


@dataclass(frozen=True)
class Directive:
    verb: str
    rest: str
    line: int


Step = Block | Directive


def parse(markdown: str) -> dict[str, list[Step]]:
    """Every walkthrough of a Markdown document, by name, its steps in document order."""
    found: list[tuple[int, str, Step]] = []
    for match in FENCE.finditer(markdown):
        words = match["info"].split()
        names = [
            w.partition(":")[2] or DEFAULT for w in words[1:] if w.split(":")[0] == "walkthrough"
        ]
        if words and names:
            line = markdown.count("\n", 0, match.start()) + 1
            found.append((match.start(), names[0], Block(words[0], match["body"], line)))
    for match in COMMENT.finditer(markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        for part in re.split(r";|\n", match["body"]):
            if not part.strip():
                continue
            directive = DIRECTIVE.match(part.strip())
            if directive is None:
                raise ValueError(f"README line {line}: unknown walkthrough directive {part!r}")
            verb, rest = directive["verb"], directive["rest"].strip()
            found.append((match.start(), match["name"] or DEFAULT, Directive(verb, rest, line)))
    stories: dict[str, list[Step]] = {}
    for _, name, step in sorted(found, key=lambda item: item[0]):
        stories.setdefault(name, []).append(step)
    return stories


def operation_names(steps: list[Step]) -> set[str]:
    """Names of the walkthrough's GraphQL operations (metrics label only known ones)."""
    pattern = re.compile(r"\b(?:query|mutation|subscription)\s+([A-Za-z_]\w*)")
    return {
        name
        for step in steps
        if isinstance(step, Block) and step.language == "graphql"
        for name in pattern.findall(step.text)
    }


def lookup(document: Any, path: str) -> Any:
    value = document
    for key in path.split("."):
        if isinstance(value, list):
            value = value[int(key)]
        elif isinstance(value, dict):
            value = value[key]
        else:
            raise KeyError(path)
    return value


def _split(rest: str) -> tuple[str, str | None]:
    left, sep, right = rest.partition("=")
    return left.strip(), (right.strip() if sep else None)


@dataclass
class Walkthrough:
    """One walkthrough's state while it runs: saved values, headers, the last result."""

    router_url: str
    ports: Mapping[str, str]  # make dev's port -> the test stack's
    env: Mapping[str, str]
    saved: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    result: Any = None
    last: Block | None = None
    subscription: LiveSubscription | None = None
    log: Callable[[str], None] = print

    def substitute(self, text: str, where: int) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1]
            if name not in self.saved:
                raise AssertionError(f"README line {where}: <{name}> was not saved by any step")
            return self.saved[name]

        return PLACEHOLDER.sub(value, text)

    async def run(self, steps: list[Step]) -> None:
        async with AsyncExitStack() as subscriptions:
            self._subscriptions = subscriptions
            for step in steps:
                self.log(f"README line {step.line}: {step}")
                if isinstance(step, Block):
                    self.last = step
                    self.result = await self._block(step)
                else:
                    await self._directive(step)

    async def _block(self, block: Block) -> Any:
        text = self.substitute(block.text, block.line)
        if block.language == "json":
            self.headers = {str(k): str(v) for k, v in json.loads(text).items()}
            return self.headers
        if block.language == "graphql":
            return await self._graphql(text, block.line)
        if block.language in ("sh", "bash", "shell", "console"):
            return await asyncio.to_thread(self._shell, text, block.line)
        raise AssertionError(f"README line {block.line}: no runner for {block.language!r}")

    async def _graphql(self, text: str, line: int) -> Any:
        if text.lstrip().startswith("subscription"):
            live = await self._subscriptions.enter_async_context(
                subscribe_sse(self.router_url, text, {}, token=None, headers=self.headers)
            )
            self.subscription = live
            return {"data": await live.next(WAIT_SECONDS)}
        result = await GraphQLClient(self.router_url).execute(text, headers=self.headers)
        assert not result.errors, f"README line {line}: {result.errors}"
        return {"data": result.data}

    def _shell(self, text: str, line: int) -> Any:
        script = ADDRESS.sub(lambda m: self._address(m, line), text)
        bin_dir = str(Path(sys.executable).parent)
        env = {**self.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(  # noqa: S603 - the README's own blocks
            [BASH, "-c", SHELL_PRELUDE + script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"README line {line}: exit {done.returncode}: {done.stderr}"
        try:
            return json.loads(done.stdout)
        except ValueError:
            return done.stdout

    def _address(self, match: re.Match[str], line: int) -> str:
        port = self.ports.get(match[1])
        assert port is not None, f"README line {line}: nothing listens on :{match[1]} in tests"
        return f"127.0.0.1:{port}"

    async def _directive(self, step: Directive) -> None:
        where = f"README line {step.line}"
        if step.verb == "let":
            name, value = _split(step.rest)
            assert value is not None, f"{where}: let NAME = VALUE"
            days = re.fullmatch(r"today\s*\+\s*(\d+)", value)
            today = datetime.now(CHINA).date()
            self.saved[name] = str(today + timedelta(days=int(days[1]))) if days else value
        elif step.verb == "save":
            name, path = _split(step.rest)
            assert path is not None, f"{where}: save NAME = PATH"
            value = lookup(self.result, path)
            self.saved[name] = value if isinstance(value, str) else json.dumps(value)
        elif step.verb == "contains":
            wanted = self.substitute(step.rest, step.line)
            text = self.result if isinstance(self.result, str) else json.dumps(self.result)
            assert wanted in text, f"{where}: {wanted!r} not in {text!r}"
        elif step.verb == "expect":
            assert self._holds(step), f"{where}: expect {step.rest} failed on {self.result}"
        elif step.verb == "until":
            await self._until(step)
        elif step.verb == "event":
            assert self.subscription is not None, f"{where}: no subscription is open"
            event = await self.subscription.until(
                lambda data: self._holds(step, {"data": data}), WAIT_SECONDS
            )
            self.result = {"data": event}

    def _holds(self, step: Directive, document: Any = None) -> bool:
        path, wanted = _split(step.rest)
        try:
            value = lookup(self.result if document is None else document, path)
        except (KeyError, IndexError, ValueError):
            return False
        if wanted is None:
            return value is not None
        wanted = self.substitute(wanted, step.line)
        try:
            expected = json.loads(wanted)
        except ValueError:
            expected = wanted
        return bool(value == expected)

    async def _until(self, step: Directive) -> None:
        assert self.last is not None, f"README line {step.line}: until needs a block before"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while not self._holds(step):
            assert loop.time() < deadline, (
                f"README line {step.line}: until {step.rest}: still {self.result}"
            )
            await asyncio.sleep(0.2)
            self.result = await self._block(self.last)
