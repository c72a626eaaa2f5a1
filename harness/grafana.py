"""Grafana, through grafana-client: push the datasource and dashboard; annotate stages.

Credentials come from the environment only (GRAFANA_TOKEN, or GRAFANA_USER and
GRAFANA_PASSWORD) and are never printed; neither is the URL, which may carry them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.argparsing import OneLineArgumentParser
from harness.resources import dashboard_path
from harness.visible import visible

logger = logging.getLogger(__name__)

TOKEN_ENV, USER_ENV, PASSWORD_ENV = "GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD"
DATASOURCE_UID = "prometheus"
DASHBOARD_UID = "omniload"
ANNOTATION_TAGS = ("omniload", "stage")
GRAFANA_TIMEOUT_S = 10.0


def credential_from_environment() -> Any:
    """$GRAFANA_TOKEN, else ($GRAFANA_USER, $GRAFANA_PASSWORD), else None."""
    credential: Any = os.environ.get(TOKEN_ENV) or None
    if credential is None and os.environ.get(USER_ENV):
        credential = (os.environ[USER_ENV], os.environ.get(PASSWORD_ENV, ""))
    return credential


def connect(url: str) -> Any:
    """A GrafanaApi for `url`, authenticated from the environment (or the URL's user:password)."""
    from grafana_client import GrafanaApi

    return GrafanaApi.from_url(url, credential=credential_from_environment(), timeout=GRAFANA_TIMEOUT_S)


def failure_cause(exc: BaseException, url: str) -> str:
    """Why a Grafana call failed, in one line, with every secret it could carry masked."""
    cause = f"{type(exc).__name__}: {exc}"
    secrets = [os.environ.get(TOKEN_ENV), os.environ.get(PASSWORD_ENV), urlsplit(url).password]
    for secret in filter(None, secrets):
        cause = cause.replace(secret, "***")
    return visible(cause)[:300]


def push(api: Any, prometheus_url: str, dashboard: dict[str, Any]) -> None:
    """Create or update the Prometheus datasource (uid "prometheus"), then the dashboard."""
    from grafana_client.client import GrafanaClientError

    datasource = {
        "name": "Prometheus",
        "uid": DATASOURCE_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
    }
    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except GrafanaClientError:
        api.datasource.create_datasource(datasource)
    else:
        api.datasource.update_datasource_by_uid(DATASOURCE_UID, datasource)
    api.dashboard.update_dashboard({"dashboard": dashboard, "overwrite": True, "message": "omniload grafana push"})


class StageAnnotator:
    """Holds a Grafana connection; the master marks each stage's start and end on the dashboard.

    A failing Grafana is logged once, never fatal.
    """

    def __init__(self, url: str) -> None:
        self.api = connect(url)
        self.host = urlsplit(url).hostname
        self._warned = False

    def mark(self, event: str, stage_number: int, parallel: int, number: str) -> None:
        text = f"stage {stage_number} {event}: parallel {parallel}, number {number}"
        try:
            self.api.annotations.add_annotation(
                dashboard_uid=DASHBOARD_UID,
                time_from=int(time.time() * 1000),
                tags=[*ANNOTATION_TAGS, event],
                text=text,
            )
        except Exception as exc:  # annotations are a convenience: never stop a run for them
            if not self._warned:
                logger.warning(
                    "omniload: Grafana annotation on %s failed (%s); going on without", self.host, type(exc).__name__
                )
                self._warned = True


def main(argv: list[str] | None = None) -> int:
    """`omniload grafana push --grafana-url URL --prometheus-url URL [--dashboard FILE]`."""
    parser = OneLineArgumentParser(prog="omniload grafana", description=main.__doc__)
    parser.add_argument("action", choices=["push"])
    parser.add_argument(
        "--grafana-url", required=True, help=f"credentials from ${TOKEN_ENV} or ${USER_ENV}/${PASSWORD_ENV}"
    )
    parser.add_argument("--prometheus-url", required=True, help="as Grafana reaches it, e.g. http://prometheus:9090")
    parser.add_argument("--dashboard", default=dashboard_path(), help="default: the dashboard omniload ships")
    args = parser.parse_args(argv)
    try:
        dashboard = json.loads(Path(args.dashboard).read_text())
    except (OSError, ValueError) as exc:
        parser.error(f"argument --dashboard: cannot read {args.dashboard}: {exc}")
    from grafana_client.client import GrafanaException

    parts = urlsplit(args.grafana_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error("argument --grafana-url: not an http(s) URL")
    if credential_from_environment() is None and not parts.username:
        parser.error(
            f"argument --grafana-url: no credentials: set ${TOKEN_ENV} (a service account token) or "
            f"${USER_ENV} and ${PASSWORD_ENV}"
        )
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    try:
        push(connect(args.grafana_url), args.prometheus_url, dashboard)
    except (GrafanaException, OSError, ValueError) as exc:
        sys.stderr.write(f"omniload grafana: error: push to {where} failed: {failure_cause(exc, args.grafana_url)}\n")
        return 1
    print(
        f"pushed datasource {DATASOURCE_UID!r} (-> {args.prometheus_url}) and dashboard {dashboard.get('uid')!r} "
        f"to {where}: open {parts.scheme}://{where}/d/{DASHBOARD_UID}"
    )
    return 0
