"""Helpers shared by test suites (import as ``support.…``: tests/ is on sys.path)."""
