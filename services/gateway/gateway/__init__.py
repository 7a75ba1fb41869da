"""Shelter Watch gateway: the only public door (routing, API keys, rate limits, merged OpenAPI)."""
