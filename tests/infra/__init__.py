"""Tests of the Terraform configuration infrastructure/ (a package so its module names cannot clash with other suites)."""
