"""The documentation: generated pages current with the code, the Sphinx site built with
warnings as errors, every ``testcode`` example run (offline: MiniKdc and in-process acceptors),
and the troubleshooting page listing every ``SEC_E_*`` the library raises."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import opensspi
from opensspi.constants import SecStatus
from opensspi.errors import SspiError
from support.require import require_module

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_state_diagrams_are_current() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_state_diagrams.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "state-machines.md").read_text(encoding="utf-8")
    assert current == module.render(), "run: python tools/gen_state_diagrams.py"


@pytest.mark.slow
def test_sphinx_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    require_module("sphinx", "pip install sphinx (it is in the test extra)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "troubleshooting.html").is_file()
    assert "opensspi.sspi.InitializeSecurityContext" in (
        tmp_path / "html" / "api.html").read_text(encoding="utf-8")


# -- the examples ---------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^\.\. (testcode|testoutput)::\s*$")


def blocks(page: Path) -> list[tuple[str, int, str]]:
    """``(kind, line, text)`` of each testcode/testoutput block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[tuple[str, int, str]] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        start = i
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            body.append(lines[i][3:])
            i += 1
        found.append((match.group(1), start + 1, "\n".join(body).strip("\n") + "\n"))
    return found


PAGES = sorted(p for p in DOCS.rglob("*.rst") if ".. testcode::" in p.read_text("utf-8"))


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from opensspi.packages.kerberos.acceptor import ReplayCache
    from opensspi.packages.kerberos.tickets import TicketCache

    monkeypatch.chdir(tmp_path)
    environ, path, modules = dict(os.environ), list(sys.path), set(sys.modules)
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if name in ("sspi", "sspicon", "win32security", "pywintypes", "win32api"):
                del sys.modules[name]
        TicketCache.forget_all()
        ReplayCache.shared().clear()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
@pytest.mark.usefixtures("isolated")
def test_examples_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    output = ""
    ran = 0
    for kind, line, text in blocks(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        if kind == "testcode":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(text, where, "exec"), namespace)
            output = buffer.getvalue()
            ran += 1
        else:
            got = [row.rstrip() for row in output.strip("\n").splitlines()]
            assert got == [row.rstrip() for row in text.strip("\n").splitlines()], where
    assert ran


def test_every_page_with_code_is_tested() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"quickstart.rst", "packages/ntlm.rst", "packages/kerberos.rst",
            "packages/digest.rst", "pywin32.rst", "inspect.rst", "logging.rst"} <= names


# -- troubleshooting -------------------------------------------------------------------------


def raised_statuses() -> set[str]:
    """Every SEC_E_* an SspiError subclass defaults to, or that the code passes as a status."""
    for info in pkgutil.walk_packages(opensspi.__path__, "opensspi."):
        if not info.name.startswith(("opensspi.compat.pywin32.", "opensspi.integrations")):
            importlib.import_module(info.name)
    found: set[str] = set()
    pending: list[type[SspiError]] = [SspiError]
    while pending:
        cls = pending.pop()
        found.add(cls.default_status.name)
        pending += cls.__subclasses__()
    for path in (ROOT / "src" / "opensspi").rglob("*.py"):
        if path.name != "constants.py":
            found |= set(re.findall(r"SecStatus\.(SEC_E_[A-Z_]+)", path.read_text("utf-8")))
    found.discard("SEC_E_OK")
    return found


def test_troubleshooting_lists_every_status_raised() -> None:
    page = (DOCS / "troubleshooting.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^(SEC_E_[A-Z_]+)\n    0x", page, re.MULTILINE))
    missing = raised_statuses() - listed
    assert not missing, f"add to docs/troubleshooting.rst: {sorted(missing)}"
    for name in listed:
        value = SecStatus[name].value & 0xFFFFFFFF
        assert re.search(rf"^{name}\n    0x{value:08X},", page, re.MULTILINE), name


def test_readme_does_not_point_outside_the_distribution() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DESIGN.md" not in readme and "../shared" not in readme
    assert "docs/architecture.rst" in readme
