"""The report pages from Jinja2 templates (harness/report/templates/), autoescaped.

Data is shaped in Python (harness/report/html.py) and handed to the templates' macros;
every value is escaped unless Python marked it as markup, which only the SVG charts
drawn by harness/report/charts.py are. The page inlines its stylesheet and its one
script, so report.html stays one file that opens offline, and carries a
Content-Security-Policy that lets that script (by hash) and nothing else run.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

TEMPLATES = "templates"
_ENVIRONMENT = Environment(
    loader=PackageLoader("harness.report", TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
STYLE = Markup(resources.files("harness.report").joinpath(TEMPLATES, "report.css").read_text(encoding="utf-8"))
SCRIPT = Markup(resources.files("harness.report").joinpath(TEMPLATES, "report.js").read_text(encoding="utf-8"))


def sections() -> Any:
    """The sections' macros (sections.html.j2), each callable with its data; each returns markup."""
    return _ENVIRONMENT.get_template("sections.html.j2").module


def svg(chart: str) -> Markup:
    """A chart drawn by harness/report/charts.py (which escapes every text it draws) as markup for a template."""
    return Markup(chart)


def content_security_policy(media_sources: str = "data:") -> str:
    """The page's policy: its one script (by hash), its styles, media from `media_sources`; nothing else.

    No inline event handler, injected script or outside request runs, whatever a server
    put in the data (the data is escaped as well: this is the second wall).
    """
    script_hash = base64.b64encode(hashlib.sha256(str(SCRIPT).encode()).digest()).decode()
    return (
        f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
        f"img-src {media_sources}; media-src {media_sources}; form-action 'self'; base-uri 'none'"
    )


def page(title: str, parts: Sequence[Markup], media_sources: str = "data:") -> str:
    """The HTML document: its policy first (a report opened from a file has no headers), then the sections.

    Each part must be markup a template made (a plain string would be trusted HTML: refused).
    """
    for part in parts:
        if not isinstance(part, Markup):
            raise TypeError(f"a page part must be template markup, not {type(part).__name__}")
    return _ENVIRONMENT.get_template("page.html.j2").render(
        title=title,
        sections=list(parts),
        policy=content_security_policy(media_sources),
        style=STYLE,
        script=SCRIPT,
    )
