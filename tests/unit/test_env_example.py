"""`.env.example` is what `looklook env-example` renders from `Settings`: a new or renamed
setting without `looklook env-example --write` fails here."""

from __future__ import annotations

import re

from common.envexample import ENV_EXAMPLE, render_env_example
from common.settings import Settings


def test_env_example_is_current() -> None:
    assert ENV_EXAMPLE.read_text() == render_env_example(), (
        "run `uv run looklook env-example --write`"
    )


def test_env_example_names_every_setting_once_and_nothing_else() -> None:
    names = re.findall(r"^# ([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    assert sorted(names) == sorted(name.upper() for name in Settings.model_fields)
