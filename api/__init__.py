"""mlpq api package."""
