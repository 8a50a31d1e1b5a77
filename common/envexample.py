"""`.env.example`, generated from `Settings` so it can never name a setting that does not exist.

Each setting appears commented out at its default, under the comment lines that
precede it in `common/settings.py`; `tests/unit/test_env_example.py` keeps the
committed file equal to what this renders.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pydantic_core import PydanticUndefined

from common.settings import PROJECT_ROOT, Settings

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
_FIELD = re.compile(r"^    (\w+): ")
_HEADER = """\
# Every setting of every Python process, at its default (generated: `looklook env-example`).
# Copy to .env and uncomment what you change; the environment wins over .env.
# The router's settings are in router/README.md.
"""


def _shown(value: object) -> str:
    if value is None or value is PydanticUndefined:
        return ""
    if isinstance(value, Path):
        return (
            str(value.relative_to(PROJECT_ROOT))
            if value.is_relative_to(PROJECT_ROOT)
            else str(value)
        )
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def render_env_example() -> str:
    lines = [_HEADER]
    comments: list[str] = []
    for line in inspect.getsource(Settings).splitlines():
        stripped = line.strip()
        if line.startswith("    #"):
            comments.append(stripped)
            continue
        match = _FIELD.match(line)
        if match and match.group(1) in Settings.model_fields:
            name = match.group(1)
            default = Settings.model_fields[name].get_default(call_default_factory=True)
            if comments:
                lines.append("")
                lines.extend(comments)
            lines.append(f"# {name.upper()}={_shown(default)}")
        if not line.startswith("    #"):
            comments = []
    return "\n".join(lines) + "\n"
