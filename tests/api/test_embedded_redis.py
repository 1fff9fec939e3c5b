"""The embedded Redis refuses a data directory that another server holds (issue: two valkeys on one
append-only file after a killed ``dispatch serve``), and a refused one leaves the holder alone."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import redis

from api.redis_server import DataDirBusy, EmbeddedRedis


def test_a_second_server_on_a_held_data_directory_is_refused_and_the_first_keeps_serving(tmp_path: Path) -> None:
    first = EmbeddedRedis(data_dir=tmp_path)
    url = first.start()
    server_pid = first.holder()
    try:
        redis.Redis.from_url(url).set("k", "kept")
        second = EmbeddedRedis(data_dir=tmp_path)
        with pytest.raises(DataDirBusy) as refused:
            second.start()
        assert f"pid {psutil.Process().pid}" in str(refused.value) and "DATA_DIR" in str(refused.value)
        second.stop()  # what serve's clean-up does, and what its garbage collection did: it stopped the first's server
        del second, refused
        gc.collect()
        assert first.holder() == server_pid and redis.Redis.from_url(url).get("k") == b"kept"
    finally:
        first.stop()
    assert first.holder() is None
    again = EmbeddedRedis(data_dir=tmp_path)
    url = again.start()  # free again: it starts, on the same append-only file
    try:
        assert redis.Redis.from_url(url).get("k") == b"kept"
    finally:
        again.stop()


HOLD_AND_HANG = textwrap.dedent("""
    import sys, time
    from api.redis_server import EmbeddedRedis
    server = EmbeddedRedis(data_dir=sys.argv[1])
    server.start()
    print(server.holder(), flush=True)
    time.sleep(600)
""")


def test_a_server_left_behind_by_a_killed_owner_is_refused(tmp_path: Path) -> None:
    """A ``dispatch serve`` killed with SIGKILL: its lock went with it, its daemonised server did not."""
    owner = subprocess.Popen([sys.executable, "-c", HOLD_AND_HANG, str(tmp_path)], stdout=subprocess.PIPE,
                             cwd=Path(__file__).resolve().parents[2])
    orphan: psutil.Process | None = None
    try:
        assert owner.stdout is not None
        orphan = psutil.Process(int(owner.stdout.readline()))
        owner.kill()
        owner.wait(10)
        assert orphan.is_running()
        with pytest.raises(DataDirBusy) as refused:
            EmbeddedRedis(data_dir=tmp_path).start()
        assert f"another Redis server (pid {orphan.pid})" in str(refused.value) and f"kill {orphan.pid}" in str(refused.value)
        gc.collect()
        assert orphan.is_running()  # refused, and not stopped by whoever was refused
    finally:
        if owner.poll() is None:
            owner.kill()
        if orphan is not None and orphan.is_running():
            orphan.kill()
            orphan.wait(10)
    assert EmbeddedRedis(data_dir=tmp_path).holder() is None  # its pid file names a dead process now
    again = EmbeddedRedis(data_dir=tmp_path)
    again.start()
    again.stop()
