"""Files the product needs at run time, found through the installed package.

Nothing is looked up relative to a source checkout, so `pip install .` (not only `-e`)
works: the locustfile, the Grafana dashboard, the bundled corpus and samples all ship
as package data under `harness/`.
"""

from __future__ import annotations

from importlib import resources

LOCUSTFILE = ("locustfiles", "omni_chat.py")
DASHBOARD = ("data", "dashboards", "omniload.json")
EXAMPLE_MIX = ("data", "mixes", "omni.yaml")


def package_file(*parts: str) -> str:
    """Filesystem path of a file shipped inside the `harness` package."""
    return str(resources.files("harness").joinpath(*parts))


def locustfile_path() -> str:
    """The locustfile Locust loads (`locust -f $(omniload locustfile)`)."""
    return package_file(*LOCUSTFILE)


def dashboard_path() -> str:
    """The Grafana dashboard JSON (made by scripts/make_dashboard.py)."""
    return package_file(*DASHBOARD)


def example_mix_path() -> str:
    """A request mix of an omni assistant's traffic (text, images, image and audio, video with sound)."""
    return package_file(*EXAMPLE_MIX)
