"""Reliability tests: hostile servers, malformed settings, secret canaries, hygiene, properties."""
