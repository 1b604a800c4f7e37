"""mlpq mlpq package."""
