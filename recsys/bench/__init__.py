"""`python -m recsys bench`: speed and quality measurements."""
