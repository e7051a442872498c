"""Talking to the Mogplex v1 API: transport (urllib3), client, request budget."""
