"""The bounded fuzzing slice CI runs on every run: a few seconds of atheris per target.

Each target of ``targets.py`` runs in its own process (``run.py``) for ``FUZZ_SLICE_SECONDS``
(default 3) from its seeds and the corpus kept in ``.fuzz-corpus/``; any finding — an exception
other than the target's documented ones, or an input running over 10 s — fails the test with
libFuzzer's report, and the input is saved under ``tests/fuzz/findings/<target>/`` to become a
regression test (``test_findings.py``). The long campaign is ``scripts/fuzz.sh long``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import TARGETS
from support.require import require_module

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_slice(name: str, tmp_path: Path) -> None:
    require_module("atheris", f"{sys.executable} -m pip install atheris (the test extra)")
    seconds = os.environ.get("FUZZ_SLICE_SECONDS", "3")
    findings = HERE / "findings" / name
    findings.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}",
           "FUZZ_CORPUS": os.environ.get("FUZZ_CORPUS", str(ROOT / ".fuzz-corpus"))}
    result = subprocess.run(
        [sys.executable, str(HERE / "run.py"), name, f"-max_total_time={seconds}",
         "-timeout=10", "-rss_limit_mb=2048", f"-artifact_prefix={findings}/"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=int(seconds) + 120,
        check=False,
    )
    if not any(findings.iterdir()):
        findings.rmdir()
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "DONE" in output, output[-4000:]
