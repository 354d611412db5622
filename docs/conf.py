"""Sphinx configuration for the opensspi documentation.

Built in CI with warnings as errors (tests/test_docs.py runs ``sphinx-build -W``); the
``testcode`` blocks of every page are run by the same test file, offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

project = "opensspi"
author = "the opensspi developers"
copyright = "2026, the opensspi developers"

try:
    from importlib.metadata import version as _version

    release = _version("opensspi")
except Exception:  # not installed: read the package
    import opensspi

    release = opensspi.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
]
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_static_path: list[str] = []
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections as :ivar: fields: a NamedTuple or dataclass field that autodoc also
# documents would otherwise be described twice.
napoleon_use_ivar = True
suppress_warnings = ["ref.python"]
