"""Tests of the Helm chart bird-chart/ (a package so its module names cannot clash with other suites)."""
