"""The embedded Redis refuses a data directory that another server still runs on (issue: two
valkeys on one append-only file after a killed ``dispatch serve``)."""
from __future__ import annotations

from pathlib import Path

import pytest
import redis

from api.redis_server import DataDirBusy, EmbeddedRedis


def test_a_second_server_on_a_held_data_directory_is_refused(tmp_path: Path) -> None:
    first = EmbeddedRedis(data_dir=tmp_path)
    url = first.start()
    try:
        redis.Redis.from_url(url).set("k", "kept")
        second = EmbeddedRedis(data_dir=tmp_path)
        with pytest.raises(DataDirBusy) as refused:
            second.start()
        assert str(first.holder()) in str(refused.value) and "DATA_DIR" in str(refused.value)
    finally:
        first.stop()
    assert first.holder() is None
    again = EmbeddedRedis(data_dir=tmp_path)
    url = again.start()  # free again: it starts, on the same append-only file
    try:
        assert redis.Redis.from_url(url).get("k") == b"kept"
    finally:
        again.stop()
