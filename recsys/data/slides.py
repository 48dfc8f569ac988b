"""Charts saved for slides: the camera in a plotly chart's toolbar downloads it at 1920 x 1080
(a full-HD slide), as PNG or SVG, under a file name that says what it shows. One config for
the pages (`recsys.ui.charts.draw_chart`) and the session report (which also adds an SVG
button beside the camera). No Streamlit here.
"""

from __future__ import annotations

import re
import unicodedata

SLIDE_WIDTH, SLIDE_HEIGHT = 1920, 1080
# The chart is laid out at half the slide's size and drawn twice as large: its text and lines
# come out at twice their on-screen size, readable across a room (laid out at 1920 x 1080,
# 12-pixel tick labels would be a hundredth of the slide's height). Plotly writes an SVG at
# width x scale by height x scale (its viewBox the layout's size), a PNG at those pixels.
SCALE = 2
FORMATS = ("png", "svg")
PREFIX = "recsys-lab"
MAX_SLUG = 60  # characters of the title kept in a file name


def chart_filename(name: str) -> str:
    """The file name (without extension: plotly adds it) of a chart called `name` (its title,
    else its key): "recsys-lab-" and `name` in lower-case ASCII letters and digits joined by
    single dashes, at most MAX_SLUG characters of it, cut at a word.

    >>> chart_filename("Cumulative click-through rate")
    'recsys-lab-cumulative-click-through-rate'
    >>> chart_filename("ab_lift"), chart_filename("<b>Régret@10</b>"), chart_filename("§")
    ('recsys-lab-ab-lift', 'recsys-lab-b-regret-10-b', 'recsys-lab-chart')
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[: MAX_SLUG + 1].rsplit("-", 1)[0]
    return f"{PREFIX}-{slug or 'chart'}"


def slide_config(image_format: str = "png", name: str = "chart") -> dict:
    """Plotly's figure config (plain JSON) for a chart called `name`: the toolbar's camera saves
    `image_format` ("png" or "svg") at SLIDE_WIDTH x SLIDE_HEIGHT pixels (laid out at 1/SCALE
    of that and drawn SCALE times as large), named
    `chart_filename(name)`; no plotly logo. The toolbar shows on hover, plotly's default: a
    defense audience sees the charts, not a row of icons over each. Raises ValueError for
    another format."""
    if image_format not in FORMATS:
        raise ValueError(f"chart downloads are {' or '.join(FORMATS)}, not {image_format!r}")
    return {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": image_format,
            "width": SLIDE_WIDTH // SCALE,
            "height": SLIDE_HEIGHT // SCALE,
            "scale": SCALE,
            "filename": chart_filename(name),
        },
    }


def chart_name(figure, fallback: str) -> str:
    """What a figure is called: its title's text, else `fallback` (a widget key)."""
    title = figure.layout.title.text
    return title if title else fallback
