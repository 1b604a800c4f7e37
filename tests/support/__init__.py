"""What the suites share: processes, servers, named specs, waiting and environment detection."""
