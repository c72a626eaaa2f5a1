"""Run the simulator: `python -m harness.sim --host 127.0.0.1 --port 8801 --model NAME`."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

from aiohttp import web

from harness.argparsing import BadOption, exit_bad_option
from harness.sim.arrival import StampingAppRunner
from harness.sim.config import PROG, SimConfig, parse_config
from harness.sim.parsing import start_parser_pool
from harness.sim.server import SimServer

# vLLM's API server listens through uvicorn, whose backlog is 2048; aiohttp's default of
# 128 made a herd of 400 connections overflow the accept queue (retransmits, +200 ms).
LISTEN_BACKLOG = 2048


async def serve(config: SimConfig, parser_pool: ProcessPoolExecutor) -> None:
    """Serve until SIGINT/SIGTERM; prints `serving on http://HOST:PORT` once listening."""
    server = SimServer(config, parser_pool)
    # The tokenizer holds millions of long-lived objects; a full collection walking them
    # stalls every stream for tens of ms. Freeze them out of the collector's sight.
    gc.collect()
    gc.freeze()
    runner = StampingAppRunner(server.build_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=LISTEN_BACKLOG)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise BadOption("--port", f"cannot listen on {config.host}:{config.port} ({exc.strerror})") from None
    port = runner.addresses[0][1]
    mode = "fixed" if config.fixed_ttft_ms is not None else "batching"
    print(f"serving on http://{config.host}:{port} model={config.model} timing={mode}", flush=True)
    if config.answer_key is None:  # OmniBench against it scores about chance: say how to get a known score
        from harness.omnibench.dataset import bundled_sample_path

        print(
            f"OmniBench answers are random letters; for a known score: --answer-key {bundled_sample_path()} "
            "[--answer-accuracy 0.75]",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    config = parse_config(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    parser_pool = start_parser_pool(config.tokenizer_path)
    try:
        asyncio.run(serve(config, parser_pool))
    except BadOption as error:
        parser_pool.shutdown(cancel_futures=True)
        exit_bad_option(error, PROG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
