"""Security suite: API keys, ownership of jobs and models, per-key limits, no keys in logs."""
