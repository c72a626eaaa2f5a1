"""The server's own /metrics, scraped by the master during the run (no Prometheus needed).

Once a second the master fetches the server's /metrics page (vLLM's) and keeps only the
lines of the series the report shows, with the time they were read, in
server_metrics.jsonl; parsing waits for the report (harness/report/server_metrics.py),
so the master spends a fetch and a line filter per second.
"""

from __future__ import annotations

import logging
import os
import time

import gevent
import urllib3

from harness.endpoint import Endpoint
from harness.jsonl import JsonlWriter
from harness.report.server_metrics import KEPT_PREFIXES, SERVER_METRICS_FILE

logger = logging.getLogger(__name__)

SCRAPE_INTERVAL_S = 1.0
SCRAPE_TIMEOUT_S = 2.0
METRICS_PATH = "/metrics"


class ServerScraper:
    """Holds the scraping greenlet and server_metrics.jsonl; started and stopped by the hooks."""

    def __init__(self, endpoint: Endpoint, report_dir: str) -> None:
        self.url = endpoint.base_url + METRICS_PATH
        self.headers = endpoint.auth_headers()
        self.writer = JsonlWriter(os.path.join(report_dir, SERVER_METRICS_FILE), fresh=True)
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        with urllib3.PoolManager(retries=False, timeout=SCRAPE_TIMEOUT_S) as http:
            while True:
                started_s = time.monotonic()
                self.scrape_once(http)
                gevent.sleep(max(0.0, SCRAPE_INTERVAL_S - (time.monotonic() - started_s)))

    def scrape_once(self, http: urllib3.PoolManager) -> None:
        try:
            response = http.request("GET", self.url, headers=self.headers)
        except urllib3.exceptions.HTTPError:
            return  # the load itself says what is wrong with the server
        if response.status != 200:
            return
        read_at = time.time()
        lines = [line for line in response.data.decode("utf-8", "replace").splitlines() if line.startswith(KEPT_PREFIXES)]
        self.writer.write({"t": read_at, "lines": lines})

    def stop(self) -> None:
        """Stop scraping and close the file (waits for a scrape in progress to be cut off)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=SCRAPE_TIMEOUT_S)
            self._greenlet = None
        self.writer.close()
