"""Helpers every test package shares: processes, ports, waiting."""
