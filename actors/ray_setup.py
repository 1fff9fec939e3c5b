"""Starting or joining Ray the one way the project does it.

Local Ray by default; ``RAY_ADDRESS`` (or an explicit address) joins a running cluster, where the
region shards spread over nodes. A local start is made cheap and quiet on a laptop: no dashboard,
a capped object store (Ray reserves 30 % of RAM otherwise), driver logs off, and token auth
disabled (Ray 2.60 turns it on for new local clusters and writes ``~/.ray/auth_token``).
"""
from __future__ import annotations

import logging
import os

import ray

log = logging.getLogger(__name__)

NAMESPACE = "o2o-dispatch"
"""Ray namespace of the platform's named actors (shards, snapshot keeper)."""

_MIN_OBJECT_STORE_MB = 80  # Ray refuses an object store below ~75 MB


def init_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_mb: int = 256,
    *,
    namespace: str = NAMESPACE,
    log_to_driver: bool = False,
) -> None:
    """Join ``address`` (or ``RAY_ADDRESS``) if given, else start a local Ray; no-op if Ray is up.

    Idempotent so that the CLI, the API and the tests can all call it without caring who was first.
    ``num_cpus`` and ``object_store_mb`` only apply to a local start: a joined cluster keeps its own.
    """
    if ray.is_initialized():
        log.debug("ray already initialised; init_ray is a no-op")
        return
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target:
        log.info("joining ray cluster at %s (namespace %s)", target, namespace)
        ray.init(
            address=target,
            namespace=namespace,
            log_to_driver=log_to_driver,
            logging_level=logging.WARNING,
        )
        return
    # Only for a cluster we start ourselves: a joined cluster decides its own auth mode.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    store_bytes = max(object_store_mb, _MIN_OBJECT_STORE_MB) * 1024 * 1024
    log.info("starting local ray: num_cpus=%s, object store %d MB", num_cpus, store_bytes // 2**20)
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        object_store_memory=store_bytes,
        namespace=namespace,
        log_to_driver=log_to_driver,
        logging_level=logging.WARNING,
    )


def shutdown_ray() -> None:
    """Disconnect (and stop a local Ray); safe to call when Ray is not running."""
    if ray.is_initialized():
        ray.shutdown()
