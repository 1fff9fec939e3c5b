"""``docs/settings.md`` is what ``Settings`` says: every variable, its default and its meaning."""
from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from api.settings_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_the_settings_page_is_generated_from_the_settings_and_up_to_date() -> None:
    text = DOC.read_text()
    assert text == render(), "docs/settings.md is stale: python -m api.settings_doc > docs/settings.md"
    for name, field in Settings.model_fields.items():
        assert f"| `{name.upper()}` |" in text
        assert field.description, f"{name} has no description: say what it sets"
