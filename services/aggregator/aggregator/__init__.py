"""Aggregator: fuses every camera's classifications into a live adoption state per space."""
