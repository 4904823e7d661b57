"""Cache hits and misses, corrupted entries, and the journal that survives kills, crashes and Ctrl-C."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from adamlr import Progress, estimate
from adamlr.cache import Cache
from tests.assets import factories as f

A = "tests.assets.factories:"
ARGS = dict(epochs=5, samples=3, seed=1)


class Seen(Progress):
    def __init__(self):
        self.begun = []

    def sample_started(self, index):
        self.begun.append(index)


def run(cache, model=A + "tiny_mlp", data=A + "tiny_data", progress=None, **kw):
    return estimate(model, data, cache=cache, progress=progress, **(ARGS | kw))


def test_second_run_is_a_cache_hit(tmp_path):
    cache = Cache(tmp_path)
    first = run(cache)
    assert first.cache["hit"] is False
    seen = Seen()
    start = time.perf_counter()
    second = run(Cache(tmp_path), progress=seen)
    assert time.perf_counter() - start < 1.0
    assert second.cache["hit"] is True and seen.begun == []
    assert second.k_hat == first.k_hat and second.lr == first.lr and second.samples == first.samples


def _scaled_data():
    x, y = f.tiny_data()
    x = x.clone()
    x[0, 0] += 1e-3
    return x, y


@pytest.mark.parametrize("change", [
    dict(model=A + "tiny_relu_mlp"),            # architecture
    dict(seed=2),                               # initial weights (and samples)
    dict(data=_scaled_data),                    # data contents
    dict(loss=A + "smoothed_cross_entropy"),    # loss
    dict(samples=4),                            # an estimate setting
    dict(tol=1e-4),                             # another
])
def test_any_change_misses(tmp_path, change):
    run(Cache(tmp_path))
    assert run(Cache(tmp_path), **change).cache["hit"] is False


def test_changed_initial_weights_miss(tmp_path):
    model = f.tiny_mlp()
    run(Cache(tmp_path), model=model)
    with torch.no_grad():
        model[0].bias.add_(1e-4)
    assert run(Cache(tmp_path), model=model).cache["hit"] is False


def test_version_is_part_of_the_key(tmp_path, monkeypatch):
    run(Cache(tmp_path))
    import adamlr.fingerprints

    monkeypatch.setattr(adamlr.fingerprints, "__version__", "99.0")
    assert run(Cache(tmp_path)).cache["hit"] is False


@pytest.mark.parametrize("damage", ["truncate", "edit", "garbage"])
def test_corrupted_entry_is_reported_and_recomputed(tmp_path, damage):
    first = run(Cache(tmp_path))
    path = next((tmp_path / "results").glob("*.json"))
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "edit":
        entry = json.loads(text)
        entry["result"]["lr"] *= 2
        path.write_text(json.dumps(entry))
    else:
        path.write_bytes(b"\x00\xff not json")
    again = run(Cache(tmp_path))
    assert again.cache["hit"] is False and again.lr == first.lr
    assert any("corrupted" in w for w in again.warnings)
    assert run(Cache(tmp_path)).cache["hit"] is True  # rewritten whole


def test_a_reused_cache_reports_damage_only_in_the_call_that_met_it(tmp_path):
    cache = Cache(tmp_path)
    run(cache)
    next((tmp_path / "results").glob("*.json")).write_text("not json")
    assert any("corrupted" in w for w in run(cache).warnings)
    unrelated = run(cache, seed=7)  # another problem, same Cache object
    assert unrelated.cache["hit"] is False
    assert not any("corrupted" in w for w in unrelated.warnings)


def test_no_partial_files_left(tmp_path):
    run(Cache(tmp_path))
    assert [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")] == []
    assert not any((tmp_path / "journal").glob("*.jsonl"))


@pytest.mark.parametrize("mode", ["kill", "crash", "sigint", "cli-sigint"])
def test_interrupted_run_resumes_and_matches(tmp_path, mode):
    out = subprocess.run([sys.executable, "tests/assets/interrupted_run.py", mode, str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    expected_rc = {"kill": -signal.SIGKILL, "crash": 1, "sigint": 1, "cli-sigint": 130}[mode]
    assert out.returncode == expected_rc, out.stderr[-2000:]
    journal = list((tmp_path / "journal").glob("*.jsonl"))
    assert len(journal) == 1 and len(journal[0].read_text().splitlines()) == 2
    if mode == "cli-sigint":  # the partial report of the two finished samples, then one error line
        assert "Recommended Adam learning rate" in out.stdout and "interrupted after 2 of 6 samples" in out.stderr
    seen = Seen()
    resumed = estimate(
        A + "tiny_mlp", A + "tiny_data", cache=Cache(tmp_path), progress=seen, epochs=5, samples=6, seed=3
    )
    assert seen.begun == [2, 3, 4, 5]
    assert any("resumed 2" in w for w in resumed.warnings)
    fresh = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=6, seed=3)
    assert resumed.k_hat == fresh.k_hat and resumed.lr == fresh.lr
    assert [s.spectral_norm for s in resumed.samples] == [s.spectral_norm for s in fresh.samples]


def test_torn_journal_line_is_ignored(tmp_path):
    cache = Cache(tmp_path)
    subprocess.run(
        [sys.executable, "tests/assets/interrupted_run.py", "kill", str(tmp_path)], capture_output=True, timeout=300
    )
    path = next((tmp_path / "journal").glob("*.jsonl"))
    path.write_text(path.read_text() + '{"sample": {"index": 2, "spectral')  # a write cut short
    seen = Seen()
    estimate(A + "tiny_mlp", A + "tiny_data", cache=cache, progress=seen, epochs=5, samples=6, seed=3)
    assert seen.begun == [2, 3, 4, 5]


def test_sample_round_trips_with_bounded_and_old_entries_load_without_it():
    import dataclasses

    from adamlr.samples import SampleResult, sample_from_dict

    s = SampleResult(index=3, spectral_norm=1.5, eigenvalue=1.5, iterations=12, converged=False, residual=0.004,
                     seconds=0.1, loss=2.0, gradient_norm=0.5, history=(1.0, 1.5), bounded=True, upper_bound=1.8)
    assert sample_from_dict(json.loads(json.dumps(dataclasses.asdict(s)))) == s
    old = {k: v for k, v in dataclasses.asdict(s).items() if k not in ("bounded", "upper_bound")}
    loaded = sample_from_dict(json.loads(json.dumps(old)))
    assert loaded.bounded is False and loaded.upper_bound is None


USER_CODE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(8, 3)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


def make_net():
    torch.manual_seed(0)
    return Net()


def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g)


def loss(outputs, targets):
    return nn.functional.cross_entropy(outputs, targets)
'''


def _cli_estimate(path, cache_dir):
    out = subprocess.run([sys.executable, "-m", "adamlr", "estimate", "--model", f"{path}:make_net", "--data",
                          f"{path}:data", "--loss", f"{path}:loss", "--epochs", "5", "--samples", "2", "--json",
                          "--cache-dir", str(cache_dir)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.parametrize("edit", [
    None,                                                                       # nothing changed: a hit
    ("return self.b(torch.tanh(self.a(x)))", "return self.b(torch.relu(self.a(x)) ** 2)"),  # forward
    ("return nn.functional.cross_entropy(outputs, targets)",
     "return nn.functional.cross_entropy(outputs, targets, label_smoothing=0.1)"),  # the loss function
])
def test_an_edit_to_the_code_misses_the_cache(tmp_path, edit):
    """Issue 20: the key hashed repr(module) and the weights, so a new forward returned the old K̂."""
    path = tmp_path / "user_model.py"
    path.write_text(USER_CODE)
    first = _cli_estimate(path, tmp_path / "cache")
    if edit is not None:
        path.write_text(USER_CODE.replace(*edit))
    second = _cli_estimate(path, tmp_path / "cache")
    assert second["cache"]["hit"] is (edit is None)
    if edit is not None:
        assert second["k_hat"] != pytest.approx(first["k_hat"], rel=1e-3)
        assert second["cache"]["key"] != first["cache"]["key"]


def test_code_digest_covers_model_classes_and_functions():
    from adamlr.fingerprints import code_digest, model_classes, source_of

    net = f.tiny_mlp()
    assert model_classes(net) == []  # torch's own classes: their code is pinned by torch's version
    base = code_digest(net, (f.tiny_mlp, None), f.tiny_data)
    assert code_digest(net, (f.tiny_relu_mlp, None), f.tiny_data) != base
    assert code_digest(net, (f.tiny_mlp, f.smoothed_cross_entropy), f.tiny_data) != base
    namespace: dict = {}
    exec("def g(x):\n    return x + 1\n", namespace)  # no source file: the compiled code stands in
    exec("def h(x):\n    return x + 2\n", namespace)
    assert source_of(namespace["g"]) != source_of(namespace["h"])


def test_a_cache_hit_reports_this_runs_names(tmp_path):
    """Issue 21, item 3: a hit reported the model and data names of whichever run stored the entry."""
    first = run(Cache(tmp_path), data=A + "tiny_data")
    again = run(Cache(tmp_path), data=A + "tiny_data_alias")
    assert again.cache["hit"] is True and first.data["name"] == A + "tiny_data"
    assert again.data["name"] == A + "tiny_data_alias" and again.to_dict()["data"]["name"] == A + "tiny_data_alias"
