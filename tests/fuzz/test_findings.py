"""Every input a fuzzing run ever found stays a regression test.

``tests/fuzz/findings/<target>/<file>`` holds the input libFuzzer saved; each is replayed here
through its target, which must now keep the contract (a value, or the documented error).
Findings that were turned into named tests elsewhere are listed there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import TARGETS

FINDINGS = Path(__file__).resolve().parent / "findings"
CASES = sorted(
    (target.name, path) for target in FINDINGS.iterdir() if target.is_dir()
    for path in target.iterdir() if path.is_file()
) if FINDINGS.is_dir() else []


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{t}/{p.name}" for t, p in CASES])
def test_finding_is_fixed(target: str, path: Path) -> None:
    TARGETS[target].setup()(path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_keeps_the_contract(name: str) -> None:
    """The seeds themselves (recorded peer tokens) run through each target without a finding."""
    fuzz = TARGETS[name].setup()
    for seed in TARGETS[name].seeds():
        fuzz(seed)
