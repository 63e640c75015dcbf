"""Benchmarks of airflow-secretsync (``make bench``; results in docs/benchmarks.md)."""
