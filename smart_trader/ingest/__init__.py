"""Turning API answers into the bronze tables (pure: no I/O, no Dagster)."""
