"""``docs/settings.md`` from ``Settings`` itself, so the page cannot drift from the code (a test compares them).

Regenerate with ``python -m api.settings_doc > docs/settings.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from api.settings import DEV_SECRET, Settings

HEADER = """# Settings of the live service

`dispatch serve` reads these from the environment (the
names below, any case) or from a TOML file named by `O2O_CONFIG` (the same names in lower case,
as top-level keys). The defaults run on a laptop: an embedded Redis, local Ray, the demo city and
its demo accounts (`admin`, `planner`, `alice`, `bob`, `store-<store id>`, `courier-1` to
`courier-<DEMO_COURIERS>`, all with the password `demo`). `MODE=production` refuses to start with
the development secrets or with demo accounts.

This page is generated from `api/settings.py` (`python -m api.settings_doc > docs/settings.md`).

| variable | default | what it sets |
|---|---|---|
"""


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, str) and value.startswith(DEV_SECRET):
        return "a development secret"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{value}`"


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default if field.default is not PydanticUndefined else None
        rows.append(f"| `{name.upper()}` | {_default(default)} | {(field.description or '').replace('|', '/')} |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
