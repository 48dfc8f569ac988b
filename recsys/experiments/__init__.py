"""A/B tests: assignment, impressions, statistics, simulation, off-policy evaluation,
interleaving, A/A tests."""
