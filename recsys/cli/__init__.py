"""`python -m recsys ...`: the command line (JSON output for scripts)."""
