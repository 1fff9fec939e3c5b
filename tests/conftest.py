"""Session-wide fixtures: one local Ray for every test that needs it (``ray.init`` costs ~5 s).

Tests that need Ray ask for ``ray_session``; the others never start it. The two-node cluster test
runs its own Ray in a subprocess (``tests/actors/test_cluster.py``).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """Local Ray, 2 CPUs, no dashboard, 192 MB object store, token auth off; shut down at the end."""
    import ray

    from actors.ray_setup import init_ray

    saved_address = os.environ.pop("RAY_ADDRESS", None)  # the tests want their own local Ray
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        init_ray(num_cpus=2, object_store_mb=192)
        yield
    finally:
        ray.shutdown()
        if saved_address is not None:
            os.environ["RAY_ADDRESS"] = saved_address
