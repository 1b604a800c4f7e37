"""Fixtures for real Redis servers and real Celery worker processes (filled in by the worker work)."""
