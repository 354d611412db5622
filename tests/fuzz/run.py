"""Run one fuzz target under atheris (coverage-guided libFuzzer for Python).

    python tests/fuzz/run.py TARGET [libFuzzer options...]

The target's seeds (tests/vectors/peers/ and our own peers' tokens) are written to a fresh seed
directory, which libFuzzer reads first; new inputs that reach new coverage go to
``$FUZZ_CORPUS/<target>`` when set (kept between runs by ``scripts/fuzz.sh``). Only opensspi is
instrumented, so the coverage figures libFuzzer prints (``cov:``, ``ft:``) are opensspi's.

A finding (an exception other than the target's allowed ones, or a timeout) stops the run with
libFuzzer's crash report and the input saved as ``<artifact_prefix>crash-<sha1>``;
``scripts/fuzz.sh`` points the prefix at ``tests/fuzz/findings/<target>/``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "src")]

import atheris  # noqa: E402

with atheris.instrument_imports(include=["opensspi"]):
    import opensspi
    import opensspi.packages.digest.machine
    import opensspi.packages.kerberos.machine
    import opensspi.packages.negotiate
    import opensspi.packages.ntlm.machine
    import opensspi.testing.kdc
    import opensspi.transport  # noqa: F401

from fuzz.targets import TARGETS  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        names = ", ".join(TARGETS)
        sys.exit(f"usage: run.py TARGET [libFuzzer options]; targets: {names}")
    target = TARGETS[sys.argv[1]]
    fuzz = target.setup()
    seed_dir = Path(tempfile.mkdtemp(prefix=f"opensspi-seeds-{target.name}-"))
    for seed in target.seeds():
        (seed_dir / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    corpus = os.environ.get("FUZZ_CORPUS")
    dirs = [str(seed_dir)]
    if corpus:
        kept = Path(corpus) / target.name
        kept.mkdir(parents=True, exist_ok=True)
        dirs.insert(0, str(kept))  # libFuzzer writes new inputs to the first directory
    argv = [sys.argv[0], *sys.argv[2:], *dirs]
    print(f"fuzz target {target.name}: {target.what}", flush=True)
    atheris.Setup(argv, fuzz)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
