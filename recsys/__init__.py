"""Recsys Learning Lab: an event-sourced recommendation engine stored in DuckDB."""

import os

# The engine's matrices are small (factors of a few dozen, blocks of users): OpenBLAS's threads
# cost more than they give, and on the lab's shared cores far more (a MovieLens import's MF fit:
# 29 s of wall time with two threads on a busy 2-core machine, 6 s with one). Takes effect when
# recsys is imported before numpy (the CLI, the bench); set OPENBLAS_NUM_THREADS to choose.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
