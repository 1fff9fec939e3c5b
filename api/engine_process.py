"""The dispatch engine's own process (``python -m api.engine_process``), started by ``EngineSupervisor``.

It holds the Ray driver (or the local engine's thread), so that when Ray dies (its GCS gone, Ray's
core worker ends the driver's process) only this process goes, and the supervisor starts another
while the API goes on taking orders. Its protocol with the supervisor, over the standard streams:

- stdin: one JSON line (the settings, the Redis URL, the regions); then stdin stays open as a
  lifeline. Its end (the supervisor closed it, or died) stops the engine: no engine outlives the
  service, even one killed with SIGKILL.
- stdout: ``ready`` once the engine runs, ``down <reason>`` before it exits because it lost its Ray.
  Everything else printed here goes to stderr (the log).
- SIGTERM stops it as well (Ray's driver replaces that handler with its own, which exits at once).
  SIGINT is ignored: a Ctrl-C in the terminal is the service's to handle, and the service then
  stops the engine in order.

Exit codes: 0 stopped, 1 failed to start, 3 went down while running (``EngineDown``).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import TextIO

from api.engine import EngineDown, make_engine
from api.settings import Settings

log = logging.getLogger("api.engine_process")
PROBE_S = 5.0  # how often the engine is asked whether it can still dispatch
EXIT_FAILED_START, EXIT_DOWN = 1, 3


def config_line(settings: Settings, redis_url: str, regions: list[int]) -> bytes:
    """What the supervisor writes to the child's stdin (a pipe, so the secrets stay out of ``ps``)."""
    return json.dumps({"settings": settings.model_dump(mode="json"), "redis_url": redis_url, "regions": regions}).encode() + b"\n"


def _lifeline(stop: threading.Event, started: threading.Event) -> None:
    sys.stdin.buffer.read()  # returns at EOF: the supervisor is gone or wants the engine stopped
    if not started.is_set():  # still in ray.init or the first connection: nothing to close in order
        log.info("dispatch engine told to stop while starting")
        logging.shutdown()
        os._exit(0)
    stop.set()


def run(config: dict, control: TextIO, stop: threading.Event, started: threading.Event) -> int:
    settings = Settings(**config["settings"])
    engine = make_engine(settings, config["redis_url"])
    try:
        engine.start([int(r) for r in config["regions"]])
    except Exception:  # noqa: BLE001 - Ray or Redis not reachable yet: the supervisor tries again later
        log.exception("the dispatch engine (%s) failed to start", settings.engine)
        _close(engine)
        return EXIT_FAILED_START
    started.set()
    log.info("dispatch engine (%s) running %d regions", settings.engine, len(config["regions"]))
    control.write("ready\n")
    control.flush()
    try:
        while not stop.wait(PROBE_S):
            engine.check()
    except EngineDown as exc:
        # no orderly close: a Ray that is gone would make it hang; the supervisor reaps what is left
        log.error("dispatch engine down: %s; exiting so that the supervisor starts it again", exc)
        control.write(f"down {exc}\n")  # the supervisor tells /health why
        control.flush()
        logging.shutdown()
        os._exit(EXIT_DOWN)
    log.info("dispatch engine stopping")
    _close(engine)
    return 0


def _close(engine: object) -> None:
    try:
        engine.close()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        log.exception("closing the dispatch engine failed")


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (Ray's among them) go to the log, not into the protocol
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s engine[{os.getpid()}] %(name)s: %(message)s")
    line = sys.stdin.buffer.readline()
    if not line:
        return 0
    stop, started = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # (a Ray driver's own handler replaces it)
    threading.Thread(target=_lifeline, args=(stop, started), name="lifeline", daemon=True).start()
    code = run(json.loads(line), control, stop, started)
    # not a return: the interpreter's shutdown would wait for the lifeline's lock on stdin (still in its read
    # after a failed start or a SIGTERM) and abort the process, and the supervisor would see SIGABRT
    logging.shutdown()
    for stream in (control, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the supervisor is gone
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
