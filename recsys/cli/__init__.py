"""`python -m recsys ...`: the command line (JSON output for scripts).

`main` builds the parser from the command modules (`lab`, `models`, `evaluate`, `export`,
`lifecycle`, `canary`, `experiments`, `data`), which share only `common`.
"""

# `from recsys.cli import main` is the entry point. Binding it here shadows the submodule
# attribute of the same name; `recsys.cli.main` still imports as a module through sys.modules.
from recsys.cli.main import main

__all__ = ["main"]
