"""The sandbox's command line (``python -m django_shipping_orders.sandbox``): arguments and the run loop.

Runs the provider sandbox in the foreground until Ctrl-C (or SIGTERM), so a
demo, a manual test session or another language's test suite can use it the
way stripe-mock is used for Stripe.
"""

from __future__ import annotations

import argparse
import re
import signal
from collections.abc import Sequence
from typing import Any

from .faults import Faults
from .server import SandboxServer
from .world import DIALECTS, SandboxAccount

_ACCOUNT_OPTIONS = ("callback", "header", "secret", "rate_limit")
_OPTION_SPLIT = re.compile(r",(?=(?:" + "|".join(_ACCOUNT_OPTIONS) + r")=)")

DESCRIPTION = """\
Run the django-shipping-orders provider sandbox: a local HTTP server that
speaks Shippit's API (under /api/3) and Sender.lv's (under /api/v1), with a
simulated clock, callbacks and faults on demand. Control it over HTTP under
/_sandbox/ (accounts, advance, faults, stats, orders, clock)."""

EPILOG = """\
examples:
  %(prog)s --port 8765 --account demo-key=shippit,callback=http://127.0.0.1:8000/cb/,\
header=X-Callback-Secret,secret=s3cret
  %(prog)s --speed 60 --fail-rate 0.05 --rate-limit 60 --account lv-key=senderlv

Probabilities (P) are between 0 and 1. Request faults affect only the provider
API routes, never label PDFs or the control API; all of them can be changed
while running with POST /_sandbox/faults."""


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def parse_account(text: str) -> SandboxAccount:
    """Parse ``KEY=DIALECT[,callback=URL][,header=NAME][,secret=VALUE][,rate_limit=N]``."""
    first, *options = _OPTION_SPLIT.split(text)
    key, _, dialect = first.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"{text!r}: the account needs a key")
    dialect = dialect or "shippit"
    if dialect not in DIALECTS:
        raise argparse.ArgumentTypeError(f"{text!r}: dialect must be one of {', '.join(DIALECTS)}")
    values: dict[str, Any] = {}
    for option in options:
        name, _, value = option.partition("=")
        values[name] = value
    try:
        return SandboxAccount(
            api_key=key,
            dialect=dialect,
            callback_url=values.get("callback") or None,
            secret_header=values.get("header") or None,
            secret=values.get("secret") or None,
            rate_limit=int(values["rate_limit"]) if values.get("rate_limit") else None,
        )
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from err


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="python -m django_shipping_orders.sandbox",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    p.add_argument(
        "--public-url",
        help="base URL put in label, tracking and manifest links (default: http://HOST:PORT)",
    )
    p.add_argument(
        "--speed",
        type=_non_negative,
        default=1.0,
        help="simulated seconds per real second; 60 makes an hour pass in a minute, 0 freezes "
        "the clock (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="seed for references, processing times and faults (repeatable runs)",
    )
    p.add_argument(
        "--cancel-share",
        type=_probability,
        default=0.1,
        metavar="P",
        help="share of orders whose processing ends cancelled (default: %(default)s)",
    )
    faults = p.add_argument_group(
        "faults (provider API routes and callbacks; never label PDFs or the control API)"
    )
    faults.add_argument(
        "--drop-callbacks",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a callback is never sent",
    )
    faults.add_argument(
        "--duplicate-callbacks",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a callback is sent twice",
    )
    faults.add_argument(
        "--reorder-callbacks",
        action="store_true",
        help="delay each callback at random so later states can arrive before earlier ones",
    )
    faults.add_argument(
        "--fail-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a request gets 500 or 503 with an error body",
    )
    faults.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests allowed per --rate-window per API key; past it 429 with "
        "Retry-After in real seconds (default: unlimited)",
    )
    faults.add_argument(
        "--rate-window",
        type=_positive,
        default=60.0,
        metavar="S",
        help="the window of --rate-limit and of the arrival meter, in seconds (default: 60)",
    )
    faults.add_argument(
        "--rate-clock",
        choices=("simulated", "real"),
        default="simulated",
        help="whether the rate window runs on simulated or real time (default: simulated)",
    )
    faults.add_argument(
        "--throttle-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that an API request is answered 429 with Retry-After: 1",
    )
    faults.add_argument(
        "--latency",
        type=_non_negative,
        default=0.0,
        metavar="MS",
        help="milliseconds added before every API answer",
    )
    faults.add_argument(
        "--garbage-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a successful answer is replaced by truncated or invalid JSON",
    )
    faults.add_argument(
        "--timeout-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a request is held for --timeout-seconds, then dropped unanswered",
    )
    faults.add_argument(
        "--timeout-seconds",
        type=_non_negative,
        default=30.0,
        metavar="S",
        help="how long a timed-out request is held (default: %(default)s)",
    )
    p.add_argument(
        "--state-file",
        metavar="PATH",
        help="JSON file loaded at start (if present) and written at stop, to keep orders",
    )
    p.add_argument(
        "--account",
        action="append",
        type=parse_account,
        default=[],
        metavar="KEY=DIALECT[,callback=URL][,header=NAME][,secret=VALUE]",
        help="register an account (repeatable). DIALECT is shippit or senderlv; callback is "
        "where state changes are POSTed; header and secret name a header sent with each "
        "callback and its value; rate_limit=N overrides --rate-limit for this key",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the sandbox described by parsed ``args`` until interrupted (shared with manage.py)."""
    faults = Faults(
        drop_callbacks=args.drop_callbacks,
        duplicate_callbacks=args.duplicate_callbacks,
        reorder_callbacks=args.reorder_callbacks,
        fail_rate=args.fail_rate,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        rate_clock=args.rate_clock,
        throttle_rate=args.throttle_rate,
        latency_ms=args.latency,
        garbage_rate=args.garbage_rate,
        timeout_rate=args.timeout_rate,
        timeout_seconds=args.timeout_seconds,
        seed=args.seed,
    )
    server = SandboxServer(
        args.host,
        args.port,
        speed=args.speed,
        seed=args.seed,
        cancel_share=args.cancel_share,
        faults=faults,
        accounts=args.account,
        state_file=args.state_file,
        public_url=args.public_url,
    )
    signal.signal(signal.SIGTERM, lambda *_: server.stopping.set())
    try:
        server.start()
        print(f"Sandbox listening on {server.url}", flush=True)
        print(f"  Shippit:   {server.shippit_url}", flush=True)
        print(f"  Sender.lv: {server.senderlv_url}", flush=True)
        print(f"  Control:   {server.url}/_sandbox/", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    print("Sandbox stopped.", flush=True)
    return 0
