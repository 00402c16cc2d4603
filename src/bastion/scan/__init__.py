"""Scanning whole collections and datasets: sources, engines, results.

A regular package (not a namespace one) so that import-linter sees its
modules and the layers contract in pyproject.toml covers them.
"""
