"""The distribution: license and metadata as declared, and an sdist whose own tests run.

The sdist is built from this tree (``python -m build --sdist --no-isolation``), unpacked in a
temporary directory, and a part of its test suite is run there with ``PYTHONPATH=src``.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from support.require import require_module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("build", "pip install build (it is in the test extra)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(out), str(ROOT)],
        check=True, capture_output=True, cwd=ROOT,
    )
    for leftover in (ROOT / "src").glob("*.egg-info"):
        for path in sorted(leftover.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        leftover.rmdir()
    (archive,) = out.glob("opensspi-*.tar.gz")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
            tar.extractall(out, filter="data")
        else:
            tar.extractall(out)  # our own archive, just built
    (tree,) = (p for p in out.iterdir() if p.is_dir())
    return tree


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the opensspi developers\n")


def test_sdist_carries_tests_docs_tools(sdist: Path) -> None:
    for path in ("LICENSE", "README.md", "pyproject.toml", "src/opensspi/py.typed",
                 "tests/test_inspector.py", "tests/vectors/ms-nlmp/ntlmv2.json",
                 "tests/support/require.py", "docs/conf.py", "docs/index.rst",
                 "tools/gen_state_diagrams.py", "bench/ntlm.py", "scripts/test.sh"):
        assert (sdist / path).is_file(), path
    assert not list(sdist.rglob("__pycache__"))


def test_metadata(sdist: Path) -> None:
    meta = email.message_from_string((sdist / "PKG-INFO").read_text())
    assert meta["License-Expression"] == "MIT"
    assert meta["Summary"] == (
        "Windows SSPI security packages (Negotiate, Kerberos, NTLM, Digest, Schannel) "
        "implemented natively in Python")
    classifiers = meta.get_all("Classifier") or []
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Topic :: Security" in classifiers
    assert "Operating System :: OS Independent" in classifiers
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().startswith("# opensspi")
    assert meta.get_all("Requires-Dist")[0] == "cryptography>=42"


@pytest.mark.slow
def test_the_sdist_runs_its_own_tests(sdist: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(sdist / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_cli.py", "tests/crypto", "tests/test_docs.py::test_state_diagrams_are_current",
         "tests/test_inspector.py::test_ms_nlmp_authenticate_and_its_ntproofstr"],
        cwd=sdist, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout
