"""The server's own /metrics, scraped by the master during the run (no Prometheus needed).

Once a second the master fetches the server's /metrics page (vLLM's) and keeps only the
lines of the series the report shows, with the time they were read, in
server_metrics.jsonl; parsing waits for the report (harness/report/server_metrics.py),
so the master spends a fetch and a line filter per second. The fetch is the standard
library's http.client over gevent's socket: 0.16 ms of CPU per fetch of the simulator's
page, against 0.41 ms and a background thread for urllib3 (here urllib3-future, which
grafana-client's niquests installs in urllib3's place), on the event loop the single
process's streams share.
"""

from __future__ import annotations

import gevent

import http.client
import logging
import os
import time
from urllib.parse import urlsplit

from harness.endpoint import Endpoint
from harness.jsonl import JsonlWriter
from harness.perenvironment import PerEnvironment
from harness.results import KEPT_PREFIXES, SERVER_METRICS_FILE

logger = logging.getLogger(__name__)

SCRAPE_INTERVAL_S = 1.0
SCRAPE_TIMEOUT_S = 2.0
METRICS_PATH = "/metrics"


class ServerScraper:
    """Holds the scraping greenlet and server_metrics.jsonl; started and stopped by the hooks."""

    def __init__(self, endpoint: Endpoint, report_dir: str) -> None:
        url = urlsplit(endpoint.base_url)
        self.https = url.scheme == "https"
        self.netloc = url.netloc
        self.path = url.path.rstrip("/") + METRICS_PATH
        self.headers = endpoint.auth_headers()
        self.writer = JsonlWriter(os.path.join(report_dir, SERVER_METRICS_FILE), fresh=True)
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        connection = self._connection()
        try:
            while True:
                started_s = time.monotonic()
                if not self.scrape_once(connection):
                    connection.close()  # a fresh connection for the next scrape
                gevent.sleep(max(0.0, SCRAPE_INTERVAL_S - (time.monotonic() - started_s)))
        finally:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.netloc, timeout=SCRAPE_TIMEOUT_S)

    def scrape_once(self, connection: http.client.HTTPConnection) -> bool:
        """One fetch, its kept lines written; False when the connection failed (the load itself says why)."""
        try:
            connection.request("GET", self.path, headers=self.headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            return False
        if response.status != 200:
            return True
        read_at = time.time()
        lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.startswith(KEPT_PREFIXES)]
        self.writer.write({"t": read_at, "lines": lines})
        return True

    def stop(self) -> None:
        """Stop scraping and close the file (waits for a scrape in progress to be cut off)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=SCRAPE_TIMEOUT_S)
            self._greenlet = None
        self.writer.close()


SCRAPERS: PerEnvironment[ServerScraper] = PerEnvironment()  # the server scraper of each run in this process
