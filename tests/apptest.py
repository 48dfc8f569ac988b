"""The whole app under AppTest for the tests, run as a server runs it (`st.navigation` on every
run, see `recsys.ui.headless`), with `switch_page("views/NAME.py")` read from the project root."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from recsys.ui.headless import launcher

ROOT = Path(__file__).resolve().parent.parent


class LabAppTest(AppTest):
    """AppTest of app.py started from `recsys.ui.headless.launcher()`."""

    def switch_page(self, page_path: str) -> LabAppTest:
        """`page_path` relative to app.py's folder (e.g. "views/world.py"), as for an AppTest
        made from app.py: the launcher's own folder has no pages."""
        super().switch_page(str(ROOT / page_path))
        return self


def lab_app_test(default_timeout: float = 120) -> LabAppTest:
    """A fresh AppTest of the whole app (database: $RECSYS_DB); not run yet."""
    return LabAppTest(launcher(), default_timeout=default_timeout)


def shown(elements) -> list[str]:
    """The text of Markdown elements as a person reads it: `md`'s escapes and joins removed."""
    return [e.value.replace("\\", "").replace("\u2060", "") for e in elements]


def chart_configs(app) -> dict[str, dict]:
    """The plotly config of every chart the page drew, by the chart's widget key (the end of
    its element id)."""
    import json

    return {
        chart.proto.id.rsplit("-", 1)[-1]: json.loads(chart.proto.config)
        for chart in app.get("plotly_chart")
    }
