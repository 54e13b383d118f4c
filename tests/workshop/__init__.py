"""Tests of the workshop exercises: catalogue, notebooks, scenarios and the self-check."""
