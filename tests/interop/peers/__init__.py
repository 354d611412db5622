"""Real peers for the interop tests, started by the tests; import as ``interop.peers``."""
