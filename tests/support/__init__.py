"""Helpers shared by the test suites (importable as ``support`` because tests/ is on the path)."""
