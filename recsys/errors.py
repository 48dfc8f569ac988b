"""The one exception the engine raises for bad input or an unusable database.

Everything the CLI and the pages show to a person comes from a `RecsysError`: one line that says
what is wrong and what to do. Anything else escaping the engine is a bug.
"""


class RecsysError(Exception):
    """Bad input or an unusable database; the message is one line meant for a person."""
