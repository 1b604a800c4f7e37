"""Observability suite: /metrics, structured logs with request and job ids, error types."""
