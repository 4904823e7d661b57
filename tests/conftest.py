import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # so tests.assets.* and sample_models.* import by path
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmark harness (lrbench), as the scripts there see it
os.chdir(ROOT)
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

# --doctest-modules would import these; they are factories and scripts the tests run, not tests.
collect_ignore_glob = ["assets/*"]


@pytest.fixture
def assets() -> str:
    return "tests.assets.factories"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test gets its own cache directory (the CLI caches by default)."""
    monkeypatch.setenv("ADAMLR_CACHE_DIR", str(tmp_path / "adamlr-cache"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
