"""Actor tests share the session's one local Ray (``tests/conftest.py``); the two-node cluster test
runs its own Ray in a subprocess, see ``test_cluster.py``."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tiny_world, whatever pytest's import mode
