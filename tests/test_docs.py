"""The generated documentation is current with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_state_diagrams_are_current() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_state_diagrams.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "state-machines.md").read_text(encoding="utf-8")
    assert current == module.render(), "run: python tools/gen_state_diagrams.py"
