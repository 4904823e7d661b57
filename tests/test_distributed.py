"""torchrun with 2 CPU processes (Gloo): data- and sample-parallel K̂ equal one process's; failures end both.

Each distributed test spawns ``python -m torch.distributed.run --standalone --nproc-per-node=2`` (a few
seconds each, one thread per process); the sharding and the communicator are also tested in-process.
"""

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from adamlr import estimate
from adamlr.cache import Cache, problem_key
from adamlr.config import Settings
from adamlr.distributed import Communicator
from adamlr.errors import ConfigError, UsageError
from adamlr.parallel import estimate_distributed
from adamlr.problem import prepare
from adamlr.progress import Progress
from adamlr.sharding import Sharder
from tests.assets import distributed as d
from tests.assets import factories as f

ROOT = Path(__file__).resolve().parents[1]
F = "tests.assets.factories:"
D = "tests.assets.distributed:"
EXACT = ["--dtype", "float64", "--tol", "1e-8", "--quiet"]


def torchrun(*args: str, env: dict[str, str] | None = None, tee: bool = False,
             timeout: float = 180) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node=2 -m adamlr ARGS``, one thread per process.

    ``tee``: prefix each line with its rank (``[default0]:`` for rank 0), as ``--tee 3`` does.
    """
    full_env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    full_env.pop("ADAMLR_DIST_TIMEOUT", None)
    full_env.update(env or {})
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               *(["--tee", "3"] if tee else []), "-m", "adamlr", *args]
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)


def one_object(stdout: str) -> dict:
    """stdout is exactly one JSON object (json.loads refuses anything after it)."""
    out = json.loads(stdout)
    assert isinstance(out, dict)
    return out


def assert_same(distributed: dict, single, rel: float = 1e-6) -> None:
    for key in ("k_hat", "lr", "initial_loss"):
        assert distributed[key] == pytest.approx(getattr(single, key), rel=rel), key
    assert [s["index"] for s in distributed["samples"]] == [s.index for s in single.samples]


def lsq_top_eigenvalue() -> float:
    x, _ = d.lsq_odd()
    return float(np.linalg.eigvalsh(2.0 / x.shape[0] * (x.double().T @ x.double()).numpy())[-1])


# --- in-process: sharding, communicator, settings -------------------------------------------------------


def _union_rows(shards: list) -> torch.Tensor:
    return torch.cat([x for shard in shards for x, _ in DataLoader(shard, batch_size=100)])


@pytest.mark.parametrize("size", [2, 3])
def test_tensor_and_dataset_shards_are_disjoint_unequal_and_cover_the_data(size):
    x, y = f.tiny_data()  # 23 rows
    blocks = [Sharder(r, size)((x, y), "xy") for r in range(size)]
    assert torch.equal(torch.cat([b[0] for b in blocks]), x)
    assert [len(b[0]) for b in blocks] == [23 // size + (r < 23 % size) for r in range(size)]
    subsets = [Sharder(r, size)(TensorDataset(x, y), "ds") for r in range(size)]
    assert sorted(_union_rows(subsets).tolist()) == sorted(x.tolist())
    assert sum(len(s) for s in subsets) == 23


def test_loader_iterable_and_generator_shards_take_every_other_batch():
    loader = f.tiny_loader()  # 5 batches of 5, 5, 5, 5, 3
    batches = [b[0] for b in loader]
    for rank in range(2):
        expected = batches[rank::2]
        sharder = Sharder(rank, 2)
        got_loader = [b[0] for b in sharder(loader, "loader")]
        got_list = [b[0] for b in sharder([tuple(b) for b in loader], "list")]
        again = sharder(f.tiny_generator, "gen")  # a factory of a one-shot generator: called again per pass
        passes = [[b[0] for b in again()] for _ in range(2)]
        for got in (got_loader, got_list):
            assert [t.tolist() for t in got] == [t.tolist() for t in expected]
        assert [t.tolist() for t in passes[0]] == [t.tolist() for t in passes[1]]
        assert not sharder.split_examples  # the user's batches stay whole


def test_a_loader_with_its_own_distributed_sampler_is_refused():
    x, y = f.tiny_data()
    dataset = TensorDataset(x, y)
    loader = DataLoader(dataset, batch_size=4, sampler=DistributedSampler(dataset, num_replicas=2, rank=0))
    with pytest.raises(UsageError, match="DistributedSampler, which would shard it twice"):
        Sharder(0, 2)(loader, "loader")


def test_one_process_communicator_is_the_identity():
    comm = Communicator.current()
    t = torch.arange(3.0)
    assert (comm.rank, comm.size, comm.is_main) == (0, 1, True)
    assert comm.all_reduce_sum(t) is t and comm.broadcast("x") == "x" and comm.gather(5) == [5]
    assert comm.device_name("auto") == "auto"


def test_parallel_is_a_checked_choice_and_not_in_the_cache_key():
    with pytest.raises(ConfigError, match="parallel: expected one of data, samples"):
        Settings(epochs=1, parallel="model")
    problem = prepare(F + "tiny_mlp", F + "tiny_data", "cross_entropy", device="cpu", dtype="float64", seed=0)
    keys = {problem_key(problem, Settings(epochs=1, parallel=p)) for p in ("data", "samples")}
    assert len(keys) == 1


def test_data_parallel_refuses_what_would_change_the_loss():
    comm = Communicator(0, 2)  # refused before any collective, so no process group is needed
    with pytest.raises(UsageError, match="BatchNorm layers that normalise with the batch's statistics"):
        estimate_distributed(F + "bn_model", F + "tiny_data", Settings(epochs=1), Progress(), None, comm)
    with pytest.raises(UsageError, match="expected --parallel samples with --batch-size"):
        estimate_distributed(F + "tiny_mlp", F + "tiny_data", Settings(epochs=1, batch_size=4), Progress(), None, comm)


# --- torchrun, 2 processes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", ["data", "samples"])
def test_least_squares_exact_k_and_one_process_values_with_unequal_shards(parallel, tmp_path):
    args = ["estimate", "-m", F + "linear_model", "-d", D + "lsq_odd", "--loss", "mse", "--epochs", "10",
            "--samples", "3", "--max-iter", "50", "--json", "--parallel", parallel, "--cache-dir", str(tmp_path)]
    run = torchrun(*args, *EXACT)
    assert run.returncode == 0, run.stderr
    out = one_object(run.stdout)
    single = estimate(F + "linear_model", D + "lsq_odd", loss="mse", epochs=10, samples=3, max_iter=50,
                      dtype="float64", tol=1e-8)
    assert_same(out, single)
    assert out["k_hat"] == pytest.approx(lsq_top_eigenvalue(), rel=1e-6)
    assert out["data"]["examples"] == 41
    # rank 0 wrote one entry under the one-process key: a one-process run finds it
    assert len(list((tmp_path / "results").glob("*.json"))) == 1 and not list(tmp_path.glob("journal/*"))
    hit = subprocess.run([sys.executable, "-m", "adamlr", *args[:-4], "--cache-dir", str(tmp_path), *EXACT],
                         capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)])))
    assert hit.returncode == 0, hit.stderr
    assert one_object(hit.stdout)["cache"]["hit"] is True


@pytest.mark.parametrize(("parallel", "data", "hvp"), [("data", "tiny_data", "stream"),
                                                        ("data", "tiny_loader", "cached"),
                                                        ("samples", "tiny_data", "auto")])
def test_small_mlp_matches_one_process(parallel, data, hvp):
    run = torchrun("estimate", "-m", F + "tiny_mlp", "-d", F + data, "--epochs", "5", "--samples", "3", "--seed", "2",
                   "--json", "--no-cache", "--parallel", parallel, "--hvp", hvp, "--stability", *EXACT)
    assert run.returncode == 0, run.stderr
    out = one_object(run.stdout)
    single = estimate(F + "tiny_mlp", F + data, epochs=5, samples=3, seed=2, dtype="float64", tol=1e-8, stability=True)
    assert_same(out, single)
    assert out["stability"]["lr_limit"] == pytest.approx(single.stability.lr_limit, rel=1e-6)
    assert out["probe"]["losses"] == pytest.approx(list(single.probe.losses), rel=1e-6)  # the same batches, in order
    assert out["recommended_lr"] == pytest.approx(single.recommended_lr, rel=1e-6)


@pytest.mark.parametrize("data", ["dict_loader", "dict_dataset"])
def test_dict_batches_sharded_match_one_process(data):
    """Issue 10's dict batches under issue 11's sharding: every other dict batch (a DataLoader)
    or every other dict item (a Dataset) per rank gives the one-process K̂, α and L(w0)."""
    shapes = "tests.assets.shapes:"
    run = torchrun("estimate", "-m", F + "tiny_mlp", "-d", shapes + data, "--epochs", "5", "--samples", "2",
                   "--json", "--no-cache", "--parallel", "data", *EXACT)
    assert run.returncode == 0, run.stderr
    out = one_object(run.stdout)
    single = estimate(F + "tiny_mlp", shapes + data, epochs=5, samples=2, dtype="float64", tol=1e-8)
    assert_same(out, single)
    assert out["data"]["examples"] == 23


@pytest.mark.parametrize("parallel", ["data", "samples"])
def test_resumes_from_a_one_process_journal(parallel, tmp_path):
    single = estimate(F + "tiny_mlp", F + "tiny_data", epochs=5, samples=3, dtype="float64", tol=1e-8)
    problem = prepare(F + "tiny_mlp", F + "tiny_data", "cross_entropy", device="cpu", dtype="float64", seed=0)
    key = problem_key(problem, Settings(epochs=5, samples=3, dtype="float64", tol=1e-8, device="auto"))
    Cache(tmp_path).append(key, dataclasses.asdict(single.samples[1]))  # as if killed after sample 1
    run = torchrun("estimate", "-m", F + "tiny_mlp", "-d", F + "tiny_data", "--epochs", "5", "--samples", "3",
                   "--json", "--parallel", parallel, "--cache-dir", str(tmp_path), *EXACT)
    assert run.returncode == 0, run.stderr
    out = one_object(run.stdout)
    assert "resumed 1 finished samples from the journal" in out["warnings"]
    assert out["cache"]["key"] == key
    assert_same(out, single)
    assert not list(tmp_path.glob("journal/*.jsonl"))


def test_check_under_torchrun_writes_once_and_reports_on_rank_0(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(f"adamlr:\n  model: {F}linear_model\n  data: {D}lsq_odd\n  loss: mse\n  epochs: 10\n"
                      "  samples: 2\noptimizer:\n  lr: 0.5  # keep me\n")
    run = torchrun("check", "--config", str(config), "--lr-key", "optimizer.lr", "--write", "--format", "json",
                   "--no-cache", "--quiet")
    assert run.returncode == 0, run.stderr
    outcome = one_object(run.stdout)
    assert outcome["written"] is True and outcome["within_band"] is True
    assert outcome["configured_lr"] == pytest.approx(outcome["recommended_lr"], rel=1e-5)
    assert f"lr: {outcome['configured_lr']}  # keep me" in config.read_text()


def _rank_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "adamlr:" in line]


@pytest.mark.parametrize(("data", "says"), [
    ("fails_on_rank_1", "adamlr: error: rank 1 of 2: data factory tests.assets.distributed:fails_on_rank_1 raised "
                        "ValueError: shard loader broke"),
    ("nan_in_second_half", "adamlr: error: expected a finite loss over the data, found nan"),
    ("killed_on_rank_1", "adamlr: error: another process of the distributed run failed"),
])
def test_an_error_on_one_rank_ends_both_with_one_line_on_rank_0(data, says):
    started = time.monotonic()
    run = torchrun("estimate", "-m", F + "linear_model", "-d", D + data, "--loss", "mse",
                   "--epochs", "5", "--samples", "2", "--json", "--no-cache", "--quiet", tee=True)
    assert run.returncode == 1
    assert run.stdout == ""
    lines = _rank_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("[default0]:" + says), lines  # rank 0 speaks for both
    assert time.monotonic() - started < 90


@pytest.mark.parametrize("parallel", ["data", "samples"])
def test_one_output_cross_entropy_gets_the_one_process_hint(parallel):
    """Both modes start like a one-process run: L(w0) first, cross-entropy over one output refused with its hint."""
    run = torchrun("estimate", "-m", F + "linear_model", "-d", D + "lsq_odd", "--epochs", "5", "--samples", "2",
                   "--json", "--no-cache", "--quiet", "--parallel", parallel)
    assert run.returncode == 1
    lines = _rank_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert "cross_entropy over 1 output" in lines[0] and "did you mean --loss mse" in lines[0], lines


def test_a_hung_rank_ends_both_at_the_process_group_timeout():
    started = time.monotonic()
    run = torchrun("estimate", "-m", F + "linear_model", "-d", D + "hangs_on_rank_1", "--loss", "mse",
                   "--epochs", "5", "--samples", "2", "--json", "--no-cache", "--quiet",
                   env={"ADAMLR_DIST_TIMEOUT": "3", "ADAMLR_TEST_HANG": "300"})
    assert run.returncode == 1
    lines = _rank_lines(run.stderr)
    assert len(lines) == 1 and "process-group timeout (3 s" in lines[0], run.stderr
    assert time.monotonic() - started < 120  # bounded by the timeout, not by the 300 s hang
