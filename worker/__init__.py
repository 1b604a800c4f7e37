"""mlpq worker package."""
