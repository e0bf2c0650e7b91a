"""Command line: ``python -m jupyter_sio serve [module:hub] --host 127.0.0.1 --port 8765``.

``--loop`` picks the event loop of the standalone server: ``uvloop`` (faster, needs the
``uvloop`` package: ``pip install jupyter_sio[fast]``), ``asyncio``, or ``auto`` (uvloop
when it is installed, the default). Inside Jupyter the server's own loop is used as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from .hub.hub import Hub
from .server import BODY_TIMEOUT, HEADER_TIMEOUT


def load_hub(spec: str) -> Hub:
    """Import ``module:attribute``; the attribute is a Hub or a callable returning one."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    target: Any = getattr(module, attribute or "hub")
    if not isinstance(target, Hub) and callable(target):
        target = target()
    if not isinstance(target, Hub):
        raise SystemExit(f"{spec} is not a jupyter_sio Hub (got {type(target).__name__})")
    return target


LOOPS = ("auto", "uvloop", "asyncio")


def loop_runner(choice: str) -> tuple[str, Callable[[Coroutine[Any, Any, None]], None]]:
    """The loop ``--loop`` names and how to run a coroutine on it: ``uvloop`` (SystemExit
    if it is not installed), ``asyncio``, or ``auto`` (uvloop when importable)."""
    if choice not in LOOPS:
        raise SystemExit(f"--loop must be one of {', '.join(LOOPS)}, got {choice!r}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise SystemExit(
                    "--loop uvloop needs the uvloop package: pip install jupyter_sio[fast]"
                ) from None
        else:
            return "uvloop", uvloop.run
    return "asyncio", asyncio.run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_sio")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run a hub on its own HTTP server")
    serve_cmd.add_argument(
        "app", nargs="?", help="module:hub to serve (default: the built-in demo)"
    )
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8765)
    serve_cmd.add_argument("--path", default="/socket.io/")
    serve_cmd.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request headers take longer, or that idles that long "
        "between requests (default: %(default)s)",
    )
    serve_cmd.add_argument(
        "--body-timeout",
        type=float,
        default=BODY_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request body takes longer (default: %(default)s)",
    )
    serve_cmd.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: uvloop (needs the uvloop package), asyncio, or auto = uvloop when "
        "installed (default: %(default)s)",
    )
    serve_cmd.add_argument(
        "--http",
        choices=("native", "tornado"),
        default="native",
        help="HTTP front end: our own asyncio server, or Tornado's (default: %(default)s)",
    )
    serve_cmd.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import serve

    if args.app:
        sys.path.insert(0, "")
        hub, demo = load_hub(args.app), False
    else:
        from .demo import hub as demo_hub

        hub, demo = demo_hub, True
    loop_name, run = loop_runner(args.loop)
    logging.getLogger("jupyter_sio").info("event loop: %s", loop_name)
    with contextlib.suppress(KeyboardInterrupt):
        run(
            serve(
                hub,
                args.host,
                args.port,
                path=args.path,
                demo_page=demo,
                header_timeout=args.header_timeout,
                body_timeout=args.body_timeout,
                http=args.http,
            )
        )


if __name__ == "__main__":
    main()
