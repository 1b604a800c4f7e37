"""mlpq's command line: `mlpq serve` runs the service; see `mlpq --help`."""
