"""Benchmarks of sklearn-unlocker: ``python -m benchmarks --help`` from the repository root."""
