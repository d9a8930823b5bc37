"""Throughput of the sandbox's Get Order, against a bare stdlib server in the same run.

Starts ``python -m django_shipping_orders.sandbox`` in a subprocess, places a
batch of orders, processes them, then drives ``GET /api/3/orders/{ref}`` for
``--duration`` seconds from ``--threads`` threads (one keep-alive
``requests.Session`` each). The baseline is a bare ``ThreadingHTTPServer``
answering a fixed JSON document of the same size, driven the same way, so the
ratio says what the sandbox's own work costs on this machine.

Prints one JSON line:
{"bench": "sandbox_get_order", "requests_per_second": ..., "baseline_requests_per_second": ...,
 "ratio": ...}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from _common import BENCH_ORDER, start_server, stop_server

ORDER = BENCH_ORDER


def serve_baseline(body_size: int) -> None:
    """Run the baseline server in this process (called in a subprocess)."""
    body = json.dumps({"response": {"padding": "x" * max(0, body_size - 30)}}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    print(f"Baseline listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def drive(urls: list[str], headers: dict[str, str], threads: int, duration: float) -> float:
    """GET ``urls`` round-robin from ``threads`` sessions; returns successful requests/s."""
    counts = [0] * threads
    errors = [0] * threads
    go = threading.Event()
    deadline = [0.0]

    def worker(i: int) -> None:
        session = requests.Session()
        session.trust_env = False
        session.headers.update(headers)
        n = len(urls)
        j = i
        session.get(urls[j % n], timeout=10)  # open the keep-alive connection before timing
        go.wait()
        ok = bad = 0
        while time.monotonic() < deadline[0]:
            r = session.get(urls[j % n], timeout=10)
            if r.status_code == 200:
                ok += 1
            else:
                bad += 1
            j += 1
        counts[i], errors[i] = ok, bad
        session.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    time.sleep(0.2)
    started = time.monotonic()
    deadline[0] = started + duration
    go.set()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    if sum(errors):
        print(f"warning: {sum(errors)} non-200 answers", file=sys.stderr)
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--orders", type=int, default=200, help="orders placed before measuring")
    parser.add_argument("--serve-baseline", type=int, metavar="BYTES", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return

    proc, url = start_server(
        [
            "-m",
            "django_shipping_orders.sandbox",
            "--port",
            "0",
            "--seed",
            "1",
            "--cancel-share",
            "0",
            "--account",
            "bench=shippit",
        ]
    )
    headers = {"Authorization": "Bearer bench"}
    try:
        with requests.Session() as s:
            s.trust_env = False
            s.headers.update(headers)
            refs = [
                s.post(f"{url}/api/3/orders", json={"order": ORDER}, timeout=10).json()["response"][
                    "tracking_number"
                ]
                for _ in range(args.orders)
            ]
            s.post(f"{url}/_sandbox/process_all", timeout=10)
            size = len(s.get(f"{url}/api/3/orders/{refs[0]}", timeout=10).content)
        urls = [f"{url}/api/3/orders/{ref}" for ref in refs]
        sandbox_rps = drive(urls, headers, args.threads, args.duration)
    finally:
        stop_server(proc)

    proc, url = start_server([str(Path(__file__).resolve()), "--serve-baseline", str(size)])
    try:
        baseline_rps = drive([f"{url}/fixed"], {}, args.threads, args.duration)
    finally:
        stop_server(proc)

    print(
        json.dumps(
            {
                "bench": "sandbox_get_order",
                "requests_per_second": round(sandbox_rps, 1),
                "baseline_requests_per_second": round(baseline_rps, 1),
                "ratio": round(sandbox_rps / baseline_rps, 3),
                "threads": args.threads,
                "duration_s": args.duration,
                "document_bytes": size,
            }
        )
    )


if __name__ == "__main__":
    main()
