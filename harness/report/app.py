"""`omniload app [RESULTS_DIR]`: a local viewer of every run under a results directory.

Lists the runs, opens any run's report (rendered on request, with every OmniBench sample's
image and audio served in full), and compares two or more runs. Binds 127.0.0.1 unless
--host names another address; there is no login, so a non-loopback address is refused
unless it was given explicitly.

What it serves stays inside the results directory (symbolic links out of it are not
followed), only to requests whose Host is an address or `localhost` (a web page cannot
rebind a DNS name of its own to this port and read the runs), with a
Content-Security-Policy on every page; every error is a 4xx with one line, and nothing
is fetched from the network (an OmniBench set from the hub has no media here).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from harness.argparsing import BadOption, OneLineArgumentParser, exit_bad_option
from harness.endpoint import is_loopback
from harness.omnibench.dataset import DatasetError
from harness.report.html import Run, load_run, render_comparison, render_report
from harness.report.render import content_security_policy, page, sections
from harness.results import DEFAULT_REPORT_ROOT, SUMMARY_FILE

PROG = "omniload app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8650
MAX_COMPARED_RUNS = 8  # runs in one comparison (each is read whole into memory)
MEDIA_SOURCES = "'self' data:"  # a report in the app plays its samples from /run/<name>/media/


class NotServed(Exception):
    """A request the viewer refuses: its status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def inside(root: Path, path: Path) -> bool:
    """Whether path, with every link resolved, is root or lies under it."""
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def list_runs(root: Path) -> list[Path]:
    """Run directories (those holding a summary.json) under root and inside it, newest first."""
    root = root.resolve()
    runs = [
        path.parent
        for path in root.glob(f"**/{SUMMARY_FILE}")
        if path.parent.name != "omnibench" and inside(root, path)
    ]
    return sorted(runs, key=lambda path: path.stat().st_mtime, reverse=True)


def runs_page(root: Path) -> str:
    rows = []
    for path in list_runs(root):
        try:
            run = load_run(path)
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        name = str(path.relative_to(root.resolve()))
        omnibench = run.summary.get("omnibench") or {}
        rows.append(
            {
                "name": name,
                "link": f"/run/{quote(name)}",
                "model": str(run.summary.get("model", "")),
                "started": str(run.summary.get("started_at", "")),
                "requests": len(run.records),
                "stages": ", ".join(str(stage.get("parallel")) for stage in run.stages if isinstance(stage, dict)),
                "accuracy": f"{omnibench['mean_acc']:.4f}" if isinstance(omnibench.get("mean_acc"), float) else "-",
            }
        )
    return page(f"omniload runs in {root}", [sections().runs(rows)])


class ViewerServer(ThreadingHTTPServer):
    """The app's HTTP server: what it serves and the address it was bound to."""

    def __init__(self, address: tuple[str, int], root: Path) -> None:
        super().__init__(address, Viewer)
        self.root = root
        self.bound_host = address[0]


class Viewer(BaseHTTPRequestHandler):
    """Serves the runs under `root` (set on the server, with `bound_host`)."""

    server: ViewerServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            self._check_host()
            body, content_type = self._route(urlsplit(self.path))
            self._send(body, content_type)
        except NotServed as refusal:
            self._send(f"{refusal}\n".encode(), "text/plain; charset=utf-8", refusal.status)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError, DatasetError) as exc:
            self._send(f"cannot show this: {type(exc).__name__}\n".encode(), "text/plain; charset=utf-8", 404)

    def _check_host(self) -> None:
        """Only a Host that names an address, `localhost` or the address served on (no DNS rebinding)."""
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        if host != "localhost" and host != self.server.bound_host and not _is_address(host):
            raise NotServed(400, "unexpected Host header: open the viewer by its address (e.g. http://127.0.0.1:PORT/)")

    def _route(self, url: Any) -> tuple[bytes, str]:
        root: Path = self.server.root
        path = unquote(url.path)
        if path == "/":
            return runs_page(root).encode(), "text/html; charset=utf-8"
        if path == "/compare":
            names = list(dict.fromkeys(parse_qs(url.query).get("run", [])))  # each run once
            if len(names) < 2:
                raise NotServed(400, "check two or more runs to compare")
            if len(names) > MAX_COMPARED_RUNS:
                raise NotServed(400, f"{len(names)} runs: compare at most {MAX_COMPARED_RUNS} at once")
            runs = [self._load(name) for name in names]
            return render_comparison(runs).encode(), "text/html; charset=utf-8"
        if path.startswith("/run/"):
            return self._run(path.removeprefix("/run/"))
        raise NotServed(404, "not found")

    def _run(self, rest: str) -> tuple[bytes, str]:
        name, _, media = rest.partition("/media/")
        run = self._load(name)
        if not media:
            html = render_report(
                run,
                media_link=lambda index, kind: f"/run/{quote(name)}/media/{index}/{kind}",
                media_sources=MEDIA_SOURCES,
            )
            return html.encode(), "text/html; charset=utf-8"
        index_text, _, kind = media.partition("/")
        if not index_text.isdigit() or kind not in ("image", "audio"):
            raise NotServed(404, "media are /media/<sample index>/image or /audio")
        from harness.mediafiles import image_mime_type
        from harness.omnibench.dataset import load_samples
        from harness.omnibench.prompt import audio_format

        config = run.summary.get("omnibench", {}).get("config") or {}
        try:
            samples = load_samples(config.get("dataset"), local_only=True)
        except DatasetError as exc:
            raise NotServed(404, f"no media: {exc}") from None
        sample = next((s for s in samples if s.index == int(index_text)), None)
        if sample is None:
            raise NotServed(404, f"no sample {index_text} in this run's dataset")
        if kind == "image":
            return sample.image_bytes, image_mime_type(sample.image_bytes)
        return sample.audio_bytes, mimetypes.types_map.get("." + audio_format(sample), "application/octet-stream")

    def _load(self, name: str) -> Run:
        root: Path = self.server.root.resolve()
        directory = root / name
        if (
            not inside(root, directory)
            or not (directory / SUMMARY_FILE).is_file()
            or not inside(root, directory / SUMMARY_FILE)
        ):
            raise NotServed(404, f"no run named {name!r} here")
        return load_run(directory, within=root)

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", content_security_policy(MEDIA_SOURCES))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # quiet: one line per request would drown the console


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument(
        "results", nargs="?", default=DEFAULT_REPORT_ROOT, help="a results directory (default: results)"
    )
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
        server = ViewerServer((host, args.port), root)
    except OSError as exc:
        exit_bad_option(BadOption("--port", f"cannot listen on {host}:{args.port} ({exc.strerror})"), PROG)
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
