"""Dependency policy checks (a package so its module names cannot clash with other suites)."""
