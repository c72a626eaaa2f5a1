"""`omniload app [RESULTS_DIR]`: a local viewer of every run under a results directory.

Lists the runs, opens any run's report (rendered on request, with every OmniBench sample's
image and audio served in full), and compares two or more runs. Binds 127.0.0.1 unless
--host names another address; there is no login, so a non-loopback address is refused
unless it was given explicitly.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import sys
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from harness.argparsing import BadOption, OneLineArgumentParser, exit_bad_option
from harness.options import DEFAULT_REPORT_ROOT
from harness.report.html import load_run, page, render_comparison, render_report
from harness.report.summary import SUMMARY_FILE

PROG = "omniload app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8650


def list_runs(root: Path) -> list[Path]:
    """Run directories (those holding a summary.json) under root, newest first."""
    runs = [path.parent for path in root.glob(f"**/{SUMMARY_FILE}") if path.parent.name != "omnibench"]
    return sorted(runs, key=lambda path: path.stat().st_mtime, reverse=True)


def runs_page(root: Path) -> str:
    rows = []
    for path in list_runs(root):
        try:
            run = load_run(path)
        except (OSError, ValueError):
            continue
        name = str(path.relative_to(root))
        omnibench = run.summary.get("omnibench") or {}
        accuracy = f"{omnibench['mean_acc']:.4f}" if "mean_acc" in omnibench else "-"
        stages = ", ".join(str(stage["parallel"]) for stage in run.stages)
        rows.append(f'<tr><td><input type="checkbox" name="run" value="{escape(name)}"></td>'
                    f'<td><a href="/run/{quote(name)}">{escape(name)}</a></td><td>{escape(run.summary.get("model", ""))}</td>'
                    f'<td>{escape(run.summary.get("started_at", ""))}</td><td>{escape(stages)}</td>'
                    f"<td>{len(run.records)}</td><td>{accuracy}</td></tr>")  # fmt: skip
    table = ('<form action="/compare"><table class="runs"><thead><tr><th></th><th>run</th><th>model</th><th>started</th>'
             f"<th>concurrency</th><th>requests</th><th>OmniBench</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
             '<button type="submit">compare the checked runs</button></form>')  # fmt: skip
    return page(f"omniload runs in {root}", [f'<section id="runs">{table if rows else "<p>No runs yet.</p>"}</section>'])


class Viewer(BaseHTTPRequestHandler):
    """Serves the runs under `root` (set on the server)."""

    server: Any

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        root: Path = self.server.root
        try:
            if url.path == "/":
                return self._send(runs_page(root).encode(), "text/html; charset=utf-8")
            if url.path == "/compare":
                names = parse_qs(url.query).get("run", [])
                if len(names) < 2:
                    return self._send(b"check two or more runs to compare", "text/plain", 400)
                return self._send(render_comparison([load_run(self._run_dir(name)) for name in names]).encode(),
                                  "text/html; charset=utf-8")  # fmt: skip
            if url.path.startswith("/run/"):
                return self._run(url.path.removeprefix("/run/"))
        except (FileNotFoundError, PermissionError, ValueError) as exc:
            return self._send(f"not found: {exc}".encode(), "text/plain", 404)
        self._send(b"not found", "text/plain", 404)

    def _run(self, rest: str) -> None:
        name, _, media = rest.partition("/media/")
        directory = self._run_dir(name)
        run = load_run(directory)
        if not media:
            html = render_report(run, media_link=lambda index, kind: f"/run/{quote(name)}/media/{index}/{kind}")
            return self._send(html.encode(), "text/html; charset=utf-8")
        index_text, _, kind = media.partition("/")
        from harness.omnibench.dataset import load_samples
        from harness.omnibench.prompt import audio_format, image_mime_type

        config = run.summary.get("omnibench", {}).get("config") or {}
        sample = next(s for s in load_samples(config.get("dataset")) if s.index == int(index_text))
        if kind == "image":
            return self._send(sample.image_bytes, image_mime_type(sample.image_bytes))
        mime = mimetypes.types_map.get("." + audio_format(sample), "application/octet-stream")
        return self._send(sample.audio_bytes, mime)

    def _run_dir(self, name: str) -> Path:
        root: Path = self.server.root.resolve()
        directory = (root / name).resolve()
        if root not in directory.parents and directory != root or not (directory / SUMMARY_FILE).exists():
            raise FileNotFoundError(name)
        return directory

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # quiet: one line per request would drown the console


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", default=DEFAULT_REPORT_ROOT, help="a results directory (default: results)")
    parser.add_argument("--host", default=None, help=f"address to serve on (default {DEFAULT_HOST}; no login)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free one (printed)")
    args = parser.parse_args(argv)
    root = Path(args.results)
    if not root.is_dir():
        exit_bad_option(BadOption("RESULTS_DIR", f"{root} is not a directory"), PROG)
    host = args.host or DEFAULT_HOST
    if not is_loopback(host) and args.host is None:
        exit_bad_option(BadOption("--host", f"{host} is not a loopback address; name it with --host to serve it"), PROG)
    try:
        server = ThreadingHTTPServer((host, args.port), Viewer)
    except OSError as exc:
        exit_bad_option(BadOption("--port", f"cannot listen on {host}:{args.port} ({exc.strerror})"), PROG)
    server.root = root
    if not is_loopback(host):
        print(f"{PROG}: serving {root} on {host} without a login: anyone who can reach it can read these results")
    print(f"serving on http://{host}:{server.server_address[1]}/ (runs under {root})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
