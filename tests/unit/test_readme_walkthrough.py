"""The README's walkthroughs, checked without servers: every operation is valid against the
committed supergraph, is named with a known metrics label, and uses only placeholders an
earlier step saved. (`tests/e2e/test_readme_walkthrough.py` runs them for real.)"""

from __future__ import annotations

import re

import pytest
from graphql import build_schema, parse, validate

from common.metrics import known_operation_names
from common.settings import PROJECT_ROOT
from tests.support import walkthrough
from tests.support.walkthrough import PLACEHOLDER, Block, Directive, Step

README = (PROJECT_ROOT / "README.md").read_text()
STORIES = walkthrough.parse(README)
SCHEMA = build_schema((PROJECT_ROOT / "schema" / "supergraph.graphql").read_text())


def test_the_readme_has_the_guest_walkthrough() -> None:
    steps = STORIES[walkthrough.DEFAULT]
    languages = {step.language for step in steps if isinstance(step, Block)}
    assert languages == {"sh", "graphql", "json"}
    assert {"WxMiniAuth", "CreateHomestayOrder", "WxPayHomestayOrder", "PaymentStatus"} <= (
        walkthrough.operation_names(steps)
    )


@pytest.mark.parametrize("name", sorted(STORIES))
def test_every_operation_is_valid_against_the_supergraph(name: str) -> None:
    for step in STORIES[name]:
        if isinstance(step, Block) and step.language == "graphql":
            # Placeholders stand in string literals; any string is as valid as the real one.
            errors = validate(SCHEMA, parse(PLACEHOLDER.sub("x", step.text)))
            assert not errors, f"README line {step.line}: {errors}"


@pytest.mark.parametrize("name", sorted(STORIES))
def test_every_operation_name_is_a_metrics_label(name: str) -> None:
    assert walkthrough.operation_names(STORIES[name]) <= known_operation_names()


def _saved_before_use(steps: list[Step]) -> list[str]:
    known: set[str] = set()
    missing: list[str] = []
    for step in steps:
        text = step.text if isinstance(step, Block) else step.rest.partition("=")[2]
        missing += [f"line {step.line}: <{n}>" for n in PLACEHOLDER.findall(text) if n not in known]
        if isinstance(step, Directive) and step.verb in ("save", "let"):
            known.add(step.rest.partition("=")[0].strip())
    return missing


@pytest.mark.parametrize("name", sorted(STORIES))
def test_placeholders_are_saved_before_they_are_used(name: str) -> None:
    assert _saved_before_use(STORIES[name]) == []


def test_a_placeholder_nobody_saved_is_found() -> None:
    steps = walkthrough.parse(
        '```graphql walkthrough\n{ homestay(id: "<homestayId>") { id } }\n```\n'
        "<!-- walkthrough save homestayId = data.x -->\n"
    )[walkthrough.DEFAULT]
    assert _saved_before_use(steps) == ["line 1: <homestayId>"]


def test_a_renamed_field_is_found() -> None:
    block = "```graphql walkthrough\nquery Me { me { id nickName } }\n```\n"
    [step] = walkthrough.parse(block)[walkthrough.DEFAULT]
    assert isinstance(step, Block)
    assert validate(SCHEMA, parse(step.text))


def test_named_walkthroughs_are_separate() -> None:
    stories = walkthrough.parse(
        "```sh walkthrough:hosts\necho '{}'\n```\n<!-- walkthrough:hosts expect a = 1 -->\n"
        "```sh walkthrough\necho '{}'\n```\n"
    )
    assert sorted(stories) == [walkthrough.DEFAULT, "hosts"]
    assert [type(s).__name__ for s in stories["hosts"]] == ["Block", "Directive"]


def test_the_home_page_block_is_what_graphiql_opens_on() -> None:
    source = (PROJECT_ROOT / "router" / "graphiql.ts").read_text()
    match = re.search(r"HOME_PAGE_QUERY = `(.*?)`;", source, re.S)
    assert match is not None
    explorer = "\n".join(line for line in match[1].splitlines() if not line.startswith("#"))
    home = [
        s.text
        for s in STORIES[walkthrough.DEFAULT]
        if isinstance(s, Block) and "query HomePage" in s.text
    ]
    assert [text.strip() for text in home] == [explorer.strip()]
