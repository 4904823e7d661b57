"""Faults and rough edges a new user hit (issue 21): damaged cache files, a cache that cannot be written,
hostile configs, typos in option values; then property-based and fault-injection tests that go looking
for the next ones (every error one line and a documented exit code, no finished sample lost)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import adamlr
from adamlr.cache import Cache, _checksum
from adamlr.cli import app

A = "tests.assets.factories:"
ARGS = dict(epochs=5, samples=3, seed=1, probe_steps=0)
ESTIMATE = ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "5", "--samples", "3", "--seed", "1",
            "--probe-steps", "0", "--quiet"]
EXIT_CODES = {0, 1, 2, 3, 4, 130}
runner = CliRunner()


def run(cache, **kw):
    return adamlr.estimate(A + "tiny_mlp", A + "tiny_data", cache=cache, **(ARGS | kw))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def error_lines(r):
    """stderr's non-empty lines, after asserting there is no traceback among them."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stderr, r.stderr
    return [line for line in r.stderr.splitlines() if line.strip()]


def journal_line(sample):
    return json.dumps({"sample": sample, "sha256": _checksum(sample)})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run's result, and its three journal lines (as a killed run would have left them)."""
    root = tmp_path_factory.mktemp("reference")
    cache = Cache(root)
    lines = []
    original = cache.append

    def keep(key, sample):
        original(key, sample)
        lines.append(cache.journal_path(key).read_text().splitlines()[-1])

    cache.append = keep
    result = run(cache)
    return result, lines, result.cache["key"]


# --- item 1: garbage in a journal or a results entry is a note and a recompute, never a traceback ------------------

@pytest.mark.parametrize("garbage", [os.urandom(3000), b"\xff\xfe" + "é".encode("utf-16") * 100, b"\x00" * 50])
def test_binary_journal_is_a_note_and_a_recompute(tmp_path, reference, garbage):
    result, _, key = reference
    path = Cache(tmp_path).journal_path(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage)
    again = run(Cache(tmp_path))
    assert again.k_hat == result.k_hat and again.lr == result.lr
    assert any("damaged" in w for w in again.warnings)


def test_cli_with_a_binary_journal_exits_0(tmp_path, reference):
    _, _, key = reference
    path = tmp_path / "journal" / f"{key}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4000))
    r = cli(*ESTIMATE, "--json", "--cache-dir", tmp_path)
    assert r.exit_code == 0 and error_lines(r) == [], r.stderr
    assert any("damaged line" in w for w in json.loads(r.stdout)["warnings"])


def test_intact_journal_lines_around_damaged_ones_are_all_kept(tmp_path, reference):
    """A torn line (a kill mid-write) followed by a rerun's lines: every intact line is resumed."""
    result, lines, key = reference
    path = Cache(tmp_path).journal_path(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(lines[0].encode() + b"\n" + os.urandom(500).replace(b"\n", b"") + b"\n" + b"x" * (3 << 20) + b"\n"
                     + lines[1].encode() + b"\n" + lines[2][:40].encode())
    samples, notes = Cache(tmp_path).journal(key)
    assert [s["index"] for s in samples] == [0, 1]
    assert len(notes) == 1 and "3 damaged line(s)" in notes[0] and len(notes[0]) < 300
    again = run(Cache(tmp_path))
    assert any("resumed 2" in w for w in again.warnings) and again.k_hat == result.k_hat


def test_a_rerun_appends_after_a_torn_line_on_a_line_of_its_own(tmp_path, reference):
    _, lines, key = reference
    cache = Cache(tmp_path)
    path = cache.journal_path(key)
    path.parent.mkdir(parents=True)
    path.write_text(lines[0] + "\n" + lines[1][:30])  # killed while writing sample 1
    cache.append(key, json.loads(lines[1])["sample"])
    cache.append(key, json.loads(lines[2])["sample"])
    samples, notes = cache.journal(key)
    assert [s["index"] for s in samples] == [0, 1, 2] and len(notes) == 1


@pytest.mark.parametrize("shape", [
    5, [1, 2], {"index": "zero"}, {"index": 0}, "sample",
    "missing_field", "wrong_type", "unknown_field",
])
def test_journal_json_of_the_wrong_shape_is_damage(tmp_path, reference, shape):
    """Even with a valid checksum: a sample that is not one is never resumed."""
    result, lines, key = reference
    good = json.loads(lines[0])["sample"]
    if shape == "missing_field":
        shape = {k: v for k, v in good.items() if k != "spectral_norm"}
    elif shape == "wrong_type":
        shape = {**good, "spectral_norm": "big"}
    elif shape == "unknown_field":
        shape = {**good, "colour": "red"}
    path = Cache(tmp_path).journal_path(key)
    path.parent.mkdir(parents=True)
    path.write_text(journal_line(shape) + "\n" + lines[1] + "\n")
    samples, notes = Cache(tmp_path).journal(key)
    assert [s["index"] for s in samples] == [1] and len(notes) == 1
    assert run(Cache(tmp_path)).k_hat == result.k_hat


@pytest.mark.parametrize("damage", ["binary", "huge", "wrong_shape", "not_a_dict", "deep"])
def test_results_entry_damage_is_a_note_and_a_recompute(tmp_path, reference, damage):
    result, _, key = reference
    cache = Cache(tmp_path)
    path = cache.result_path(key)
    path.parent.mkdir(parents=True)
    body = {**result.to_dict(), "cache": None, "samples": [{"index": 0}]}
    path.write_bytes({
        "binary": os.urandom(5000),
        "huge": b'{"key": "' + b"k" * (3 << 20) + b'"}',
        "wrong_shape": json.dumps({"key": key, "sha256": _checksum(body), "result": body}).encode(),
        "not_a_dict": json.dumps([key, 1, 2]).encode(),
        "deep": b"[" * 100_000 + b"]" * 100_000,
    }[damage])
    again = run(cache)
    assert again.cache["hit"] is False and again.k_hat == result.k_hat
    notes = [w for w in again.warnings if "corrupted" in w]
    assert len(notes) == 1 and len(notes[0]) < 400
    assert run(Cache(tmp_path)).cache["hit"] is True  # rewritten whole


# --- item 2: a cache directory that cannot be written costs the cache, never the run --------------------------------

def unwritable(tmp_path):
    """A cache directory that cannot be created or written, even by root (a path under a regular file)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        return locked
    return blocker / "sub"


def test_cache_writes_never_raise_and_note_once(tmp_path, reference):
    _, lines, key = reference
    cache = Cache(unwritable(tmp_path))
    sample = json.loads(lines[0])["sample"]
    cache.append(key, sample)
    cache.append(key, sample)
    assert cache.store(key, {"lr": 1.0}) is None
    cache.finish(key)
    assert len(cache.notes) == 1 and not cache.writable
    assert "is not writable" in cache.notes[0] and "not journaled" in cache.notes[0]
    assert cache.load(key, dict) == (None, []) and cache.journal(key) == ([], [])


def test_cli_with_an_unwritable_cache_dir_reports_in_full(tmp_path, reference):
    result, _, _ = reference
    where = unwritable(tmp_path)
    r = cli(*ESTIMATE, "--cache-dir", where)
    assert r.exit_code == 0, r.stderr
    assert error_lines(r) == []
    text = " ".join(r.stdout.split())
    assert "Recommended Adam learning rate" in text and f"{result.lr:.3g}"[:4] in text
    assert text.count("is not writable") == 1 and "result is not stored" in text
    d = json.loads(cli(*ESTIMATE, "--json", "--cache-dir", where).stdout)
    assert [w for w in d["warnings"] if "not writable" in w] and d["cache"] is None and d["k_hat"] == result.k_hat


# --- items 8 and 13: a config can neither blow up a message nor run code --------------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh")) + "seed: *h\n"


def one_error(r, code=2):
    """The single stderr line of a failed run (asserting the exit code, no traceback, a bounded line)."""
    lines = error_lines(r)
    assert code is None or r.exit_code == code, (r.exit_code, r.stderr)
    assert r.exit_code in EXIT_CODES - {0} and len(lines) == 1 and lines[0].startswith("adamlr: error: "), r.stderr
    assert len(lines[0]) < 1200, len(lines[0])
    return lines[0]


@pytest.mark.parametrize("command", [["estimate"], ["check", "--lr-key", "optimizer.lr"], ["compare"]])
def test_yaml_alias_bomb_is_one_short_line(tmp_path, command):
    path = tmp_path / "bomb.yaml"
    path.write_text(LAUGHS)
    line = one_error(cli(*command, "--config", path))
    assert f"expected plain YAML in {str(path)!r}, found aliases that expand to more than 100000 values" in line


def test_yaml_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "x.yaml"
    path.write_text(f"epochs: !!python/object/apply:os.system ['touch {marker}']\n")
    for command in (["estimate"], ["check", "--lr-key", "epochs"]):
        line = one_error(cli(*command, "--config", path))
        assert line == (f"adamlr: error: expected plain YAML in {str(path)!r}, found the tag "
                        "!!python/object/apply:os.system at line 1; tags are not allowed")
    assert not marker.exists()
    path.write_text("model: !custom {a: 1}\n")
    assert "found the tag !custom at line 1; tags are not allowed" in one_error(cli("estimate", "--config", path))
    from adamlr.config import load_plain

    plain = "base: &b {epochs: 3}\nrun: {<<: *b, seed: 1}\nx: !!str 3\nd: 2001-12-14\n"  # YAML's own tags and merges
    assert load_plain(plain)["run"] == {"epochs": 3, "seed": 1} and load_plain(plain)["x"] == "3"


@pytest.mark.parametrize("text, expected", [
    ("a: &a [*a]\n", "found an alias inside its own anchor at line 1"),
    ("a: " + "[" * 300 + "]" * 300 + "\n", "found values nested deeper than 64 levels at line 1"),
    ("a: &x [[[[[[[[1]]]]]]]]\n" + "".join(f"x{i}: &x{i} [*{'x' if i == 0 else f'x{i - 1}'}]\n" for i in range(70)),
     "found aliases that expand to 64+ levels"),
    ("epochs: " + "9" * 5000 + "\n", "found a value it cannot hold (Exceeds the limit"),
    ("seed: 2024-13-45\n", "found a value it cannot hold"),
    ("epochs: " + "1" * (2 << 20) + "\n", "expected a YAML config of at most 1 MiB"),
    (b"\xff\xfe\x00garbage", "expected a UTF-8 text file at"),
])
def test_hostile_yaml_is_one_line_exit_2(tmp_path, text, expected):
    path = tmp_path / "x.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert expected in one_error(cli("estimate", "--config", path))


@pytest.mark.parametrize("document", [
    {"seed": "x" * 100_000},
    {"epochs": 5, "inputs": ["a" * 100_000]},
    {"epochs": 5, "model": "m" * 100_000 + ":f", "data": "d:f"},
    "? " + "k" * 100_000 + "\n: 1\nepochs: 5\n",  # a key longer than 1024 characters needs YAML's "? "
    {f"key{i}": i for i in range(5000)},
    {"epochs": 5, "model": "pkg" * 1000 + "/x.py:f", "data": "d:f"},
])
def test_no_message_grows_with_the_input(tmp_path, document):
    path = tmp_path / "x.yaml"
    inputs = {"model": A + "tiny_mlp", "data": A + "tiny_data"}
    if isinstance(document, str):
        path.write_text("".join(f"{k}: {v}\n" for k, v in inputs.items()) + document)
    else:
        path.write_text(json.dumps({**inputs, **document}))
    line = one_error(cli("estimate", "--config", path), code=None)
    assert len(line) < 1200


def test_compare_config_of_the_wrong_shape_is_exit_2(tmp_path):
    path = tmp_path / "x.yaml"
    for doc in ({"estimate": 5}, {"schedulers": [1]}, {"schedulers": {"step": 3}}, {"k" * 10_000: 1},
                {"device": 5}, {"arms": [1]}, {"dtype": "float16"}, {"loss": 3}, {"inputs": {}}):  # found by fuzzing
        path.write_text(json.dumps({"model": A + "tiny_mlp", "data": A + "tiny_data", **doc}))
        one_error(cli("compare", "--config", path, "--out", tmp_path / "out"))


# --- item 6: one training YAML serves estimate and check ------------------------------------------------------------

TRAIN = f"""# the user's training config
adamlr:
  model: {A}tiny_mlp
  data: {A}tiny_data
  epochs: 5
  samples: 2
  probe_steps: 0
optimizer:
  lr: 0.01
"""


def test_estimate_reads_the_adamlr_section_as_check_does(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN)
    estimated = cli("estimate", "--config", path, "--json", "--quiet")
    assert estimated.exit_code == 0, estimated.stderr
    checked = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--format", "json", "--quiet")
    assert checked.exit_code in (0, 4), checked.stderr
    assert json.loads(checked.stdout)["recommended_lr"] == json.loads(estimated.stdout)["recommended_lr"]
    assert json.loads(estimated.stdout)["settings"]["samples"] == 2
    path.write_text(TRAIN.replace("adamlr:", "lr_finder:"))
    named = cli("estimate", "--config", path, "--section", "lr_finder", "--json", "--quiet")
    assert named.exit_code == 0 and json.loads(named.stdout)["k_hat"] == json.loads(estimated.stdout)["k_hat"]
    line = one_error(cli("estimate", "--config", path, "--section", "lr_findr"))
    assert f"expected a 'lr_findr' section in {str(path)!r}" in line and "did you mean 'lr_finder'?" in line
    assert "expected --config with --section" in one_error(cli("estimate", "--section", "adamlr"))


def test_unknown_keys_listed_at_once_with_the_options_once(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(f"model: {A}tiny_mlp\ndata: {A}tiny_data\nepoch: 5\ncolour: red\noptimizer: {{lr: 1}}\n")
    line = one_error(cli("estimate", "--config", path))
    assert "epoch: unknown option; did you mean 'epochs'?" in line
    assert "colour: unknown option" in line and "optimizer: unknown option" in line
    assert line.count("batches_per_sample") == 1 and line.count("expected options: epochs, steps") == 1


# --- item 12: every missing input at once -----------------------------------------------------------------------

def test_estimate_without_arguments_lists_every_missing_input():
    line = one_error(cli("estimate"))
    for part in ("model: expected --model", "data: expected --data", "epochs/steps: expected exactly one of them"):
        assert part in line
    line = one_error(cli("estimate", "-m", A + "tiny_mlp", "--samples", "0"))
    assert "data: expected --data" in line and "found neither" in line and "model:" not in line


# --- item 7: a mistyped loss name is a usage error with a hint --------------------------------------------------------

def test_loss_name_typo_is_exit_2_with_did_you_mean(tmp_path):
    from adamlr.choices import LOSS_NAMES
    from adamlr.losses import LOSSES

    assert tuple(LOSSES) == LOSS_NAMES
    line = one_error(cli(*ESTIMATE, "--loss", "cross_entropyy"))
    assert "loss: expected one of cross_entropy" in line and line.endswith("did you mean 'cross_entropy'?")
    assert "did you mean 'training_step'?" in one_error(cli(*ESTIMATE, "--loss", "training-step"))
    compare = cli("compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--loss", "cross_entropy_loss",
                  "--epochs", "1", "--lr", "0.1", "--arms", "adamlr", "--out", tmp_path)
    assert "did you mean 'cross_entropy'?" in one_error(compare)
    assert "expected an attribute 'nope'" in one_error(cli(*ESTIMATE, "--loss", A + "nope"), code=1)  # a path: exit 1


# --- item 5: check under strict prints its verdict, then exits 3 --------------------------------------------------

def test_check_under_strict_prints_its_result_then_exits_3(tmp_path):
    path = tmp_path / "train.yaml"
    blows_up = TRAIN.replace("tiny_mlp", "tiny_relu_mlp").replace("epochs: 5", "steps: 1\n  scale: 4")
    path.write_text(blows_up.replace("  probe_steps: 0\n", "  strict: true\n  rule: paper\n"))  # α blows up
    before = path.read_text()
    r = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--format", "json", "--write", "--quiet")
    line = one_error(r, code=3)
    d = json.loads(r.stdout)
    assert d["estimate"]["probe"]["verdict"] == "rises" and d["written"] is False and "within_band" in d
    assert "--strict" in line and path.read_text() == before  # the flag it names exists; nothing written
    rich = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--quiet")
    assert rich.exit_code == 3 and "recommended" in rich.stdout
    relaxed = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--no-strict", "--format", "json")
    assert relaxed.exit_code in (0, 4) and json.loads(relaxed.stdout)["estimate"]["probe"]["verdict"] == "rises"
    path.write_text(blows_up.replace("  probe_steps: 0\n", "  rule: paper\n"))
    flagged = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--strict", "--format", "json")
    assert flagged.exit_code == 3 and json.loads(flagged.stdout)["estimate"]["probe"]["verdict"] == "rises"


# --- item 9: explicit options win over --quick ---------------------------------------------------------------------

def test_quick_keeps_explicit_epochs_and_uses_them_as_T(tmp_path):
    base = ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--quick", "--arms", "adamlr", "--json", "--quiet"]
    short = cli(*base, "--out", tmp_path / "a")
    long = cli(*base, "--epochs", "20", "--samples", "3", "--seeds", "0,1", "--out", tmp_path / "b")
    assert short.exit_code == 0 and long.exit_code == 0, long.stderr
    s, d = json.loads(short.stdout), json.loads(long.stdout)
    assert s["epochs"] == 3 and d["epochs"] == 20 and d["data"] == s["data"] == f"{A}tiny_data[:512]"
    assert d["seeds"] == [0, 1] and s["seeds"] == [0]
    assert len(d["runs"][0]["records"]) == 21  # epoch 0 and 20 epochs trained
    # α = sqrt(2 L(w0) / (K̂ T)): T = 20, not 3 (K̂ from 3 samples ≥ K̂ from their first 2)
    assert d["adamlr_lr"]["0"] <= s["adamlr_lr"]["0"] * (3 / 20) ** 0.5 * 1.0001
    help_text = " ".join(cli("compare", "--help").stdout.split())
    assert "unless given: --epochs 3" in help_text.replace("│ ", "")


# --- found by the property-based tests below ---------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["estimate", "--epochs", "abc"], "Invalid value for '--epochs'"),
    (["estimate", "--epoch", "3"], "No such option: --epoch"),
    (["estmate"], "No such command 'estmate'. Did you mean 'estimate'?"),
    (["check", "--lr-key", "a"], "Missing option '--config'"),
])
def test_usage_errors_are_one_line_too(args, message):
    line = one_error(cli(*args))
    assert message in line and line.endswith("--help')")


def test_a_seed_beyond_torchs_range_is_exit_2(tmp_path):
    assert "seed: expected a non-negative integer below 2**64" in one_error(cli(*ESTIMATE, "--seed", str(2**64)))
    compare = cli("compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--seeds", f"0,{2**64}", "--out", tmp_path)
    assert "seeds: expected non-negative integers below 2**64" in one_error(compare)


def test_weights_too_large_for_the_model_are_a_numerical_error():
    """NaN Hessian-vector products made the eigen-solver raise numpy's LinAlgError: a traceback."""
    line = one_error(cli(*ESTIMATE, "-m", A + "tiny_relu_mlp", "--scale", "1e20"), code=1)
    assert "expected finite Hessian-vector products" in line and "scale 1e+20" in line


def test_compare_out_that_cannot_be_written_is_one_line_before_training(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    r = cli("compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "50", "--arms", "adamlr", "--lr",
            "0.1", "--quiet", "--out", blocker / "sub")
    assert "expected a writable directory at --out" in one_error(r) and blocker.read_text() == "mine"


def test_check_write_that_fails_leaves_the_config_unchanged(tmp_path, monkeypatch):
    import adamlr.config_check

    def refuse(path, text):
        raise PermissionError(13, "Permission denied")

    path = tmp_path / "train.yaml"
    path.write_text(TRAIN)
    monkeypatch.setattr(adamlr.config_check, "write_atomic", refuse)
    r = cli("check", "--config", path, "--lr-key", "optimizer.lr", "--write", "--quiet")
    assert "(--write), found PermissionError: Permission denied; the file is unchanged" in one_error(r, code=1)
    assert path.read_text() == TRAIN


def test_damaged_files_in_compare_out_are_recomputed(tmp_path):
    """Found by fuzzing --out's files: a saved rate that is not one, or JSON nested too deep, was a traceback."""
    import shutil

    args = ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "2", "--samples", "2", "--arms",
            "adamlr,lr_range_test", "--quiet", "--json"]
    first = cli(*args, "--out", tmp_path / "o")
    assert first.exit_code == 0, first.stderr
    expected = json.loads(first.stdout)["adamlr_lr"]
    for i, (name, content) in enumerate([("estimate-seed0.json", '{"lr": "abc"}'), ("estimate-seed0.json", "[" * 5000),
                                         ("range-test-seed0.json", '{"lr": -1}'), ("range-test-seed0.json", "null"),
                                         ("arms/adamlr__seed0.json", "[" * 5000)]):
        shutil.copytree(tmp_path / "o", tmp_path / f"c{i}")
        (tmp_path / f"c{i}" / name).write_text(content)
        r = cli(*args, "--out", tmp_path / f"c{i}")
        assert sound(r) is None and r.exit_code == 0 and json.loads(r.stdout)["adamlr_lr"] == expected


# --- property-based: whatever the cache files, configs and option values hold -------------------------------------

# Derandomised unless ADAMLR_FUZZ_RANDOM=1: CI's gate runs the same examples every time (a fresh search is run by
# hand with many examples: `ADAMLR_FUZZ_RANDOM=1 ADAMLR_FUZZ_EXAMPLES=500 pytest tests/test_faults.py -k any_`).
FUZZ = settings(max_examples=int(os.environ.get("ADAMLR_FUZZ_EXAMPLES", 20)), deadline=None, database=None,
                derandomize=os.environ.get("ADAMLR_FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
HUGE_LINE = b'{"sample": "' + b"x" * (3 << 19) + b'"}'  # 1.5 MiB: over the journal's line limit


def sound(r):
    """The CLI's contract, whatever it was given: a documented exit code, at most one error line, no traceback."""
    lines = error_lines(r)
    errors = [line for line in lines if line.startswith("adamlr: error:")]
    assert r.exit_code in EXIT_CODES, (r.exit_code, r.stderr[-2000:])
    assert len(errors) == (r.exit_code != 0) and len(lines) <= 1 + (r.exit_code == 0), r.stderr[-2000:]
    assert all(len(line) <= 2200 for line in lines)
    return errors[0] if errors else None


def journal_chunks(lines):
    """Pieces of a journal: intact lines, and every kind of damage, each followed by a line break or not."""
    intact = st.sampled_from(lines).map(str.encode)
    damage = st.one_of(
        st.binary(max_size=200),
        st.sampled_from(lines).flatmap(lambda line: st.integers(1, len(line) - 1).map(lambda i: line[:i].encode())),
        JSON.map(lambda v: journal_line(v).encode()),  # a valid checksum over something that is not a sample
        JSON.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(lines).map(lambda line: line.replace('"index": ', '"index": 9').encode()),  # checksum off
        st.just(HUGE_LINE),
    )
    return st.lists(st.tuples(intact | damage, st.booleans()), max_size=6)


@FUZZ
@given(data=st.data())
def test_any_journal_is_resumed_without_losing_an_intact_sample(reference, data):
    result, lines, key = reference
    chunks = data.draw(journal_chunks(lines))
    content = b"".join(chunk + (b"\n" if newline else b"") for chunk, newline in chunks)
    kept = {json.loads(line)["sample"]["index"] for line in content.split(b"\n")
            if line.strip(b" \t\r") in {ref.encode() for ref in lines}}
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "journal" / f"{key}.jsonl"
        path.parent.mkdir()
        path.write_bytes(content)
        r = cli(*ESTIMATE, "--json", "--cache-dir", root)
    assert sound(r) is None and r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["k_hat"] == result.k_hat and d["lr"] == result.lr
    resumed = [w for w in d["warnings"] if w.startswith("resumed")]
    assert resumed == ([f"resumed {len(kept)} finished samples from the journal"] if kept else [])


@FUZZ
@given(data=st.data())
def test_any_results_entry_is_used_or_recomputed(reference, data):
    result, _, key = reference
    stored = {**result.to_dict(), "cache": None}
    entry = json.dumps({"key": key, "sha256": _checksum(stored), "result": stored}).encode()
    field = data.draw(st.sampled_from(sorted(stored)))
    changed = {**stored, field: data.draw(JSON)}
    sample = {**stored["samples"][0], data.draw(st.sampled_from(sorted(stored["samples"][0]))): data.draw(JSON)}
    content = data.draw(st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(entry) - 1).map(lambda i: entry[:i]),
        st.just(json.dumps({"key": key, "sha256": _checksum(changed), "result": changed}).encode()),
        st.just(json.dumps({"key": key, "sha256": _checksum(s := {**stored, "samples": [sample]}), "result": s})
                .encode()),
        JSON.map(lambda v: json.dumps(v).encode()),
    ))
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "results" / f"{key}.json"
        path.parent.mkdir()
        path.write_bytes(content)
        r = cli(*ESTIMATE, "--cache-dir", root)  # the human report: it reads every field
    assert sound(r) is None and r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "hit: stored result returned" in text or ("corrupted" in text and f"{result.k_hat:.4g}" in text)


@pytest.mark.parametrize("growth", [[None], [[1, None]], [["x", 2.0]], [[1, 2.0, 3]]])  # the last passes the schema
def test_a_stored_sample_whose_growth_does_not_parse_is_recomputed(reference, tmp_path, growth):
    """CI's fuzz found this one: a checksummed entry with a sample's growth of [null] raised a TypeError."""
    result, _, key = reference
    stored = {**result.to_dict(), "cache": None}
    stored["samples"] = [{**stored["samples"][0], "growth": growth}]
    path = tmp_path / "results" / f"{key}.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"key": key, "sha256": _checksum(stored), "result": stored}))
    r = cli(*ESTIMATE, "--cache-dir", tmp_path)
    assert sound(r) is None and r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "corrupted" in text and f"{result.k_hat:.4g}" in text


VALID = {  # values each setting accepts, so that a fair share of the runs get through and compute
    "epochs": ["3", "7"], "steps": ["4"], "loss": ["cross_entropy", "nll", "mse", A + "smoothed_cross_entropy"],
    "weights": ["init", "gaussian"], "scale": ["0.5", "2"], "method": ["power", "lanczos"], "tol": ["0.01"],
    "seed": ["0", "7"], "device": ["cpu", "auto"], "dtype": ["float64"], "loss_floor": ["0.1"],
    "hvp": ["stream", "cached"], "chunk_size": ["5"], "batch_size": ["8"], "norm_mode": ["eval"],
    "rule": ["probe_halving"], "strict": ["true", "false"], "parallel": ["samples"], "inputs": ["0"],
    "targets": ["1"], "output": ["0"], "model": [A + "tiny_relu_mlp", A + "bn_model"], "data": [A + "tiny_loader"],
    "test_data": [A + "tiny_data"], "lr": ["0.01"], "seeds": ["0,1"], "arms": ["adamlr", "const_0.001"],
    "schedulers": ["{step: {step_size: 2}}"], "estimate": ["{weights: init}"], "scheduler_set": ["paper-code"],
    "max-iter": ["15"], "colour": ["red"],
}
HOSTILE = st.one_of(
    JSON.map(json.dumps),
    st.sampled_from(["0", "-3", "1e400", "1e300", "1e20", "1e-300", ".nan", "-.inf", "~", "yes", "0x1F", "2024-13-45",
                     "2024-01-01", "'5'", str(2**64), "9" * 40, "9" * 5000, "!!python/object/apply:os.system ['true']",
                     "!custom 3", "!!binary aGk=", "&a [*a]", "'" + "x" * 200_000 + "'", "cross_entropyy", "cuda:7",
                     "float16", "a:b", "{step: {step_size: 2}}", "[1, [2, [3]]]"]),
    st.integers(1, 90).map(lambda depth: "[" * depth + "]" * depth),
    st.text(max_size=30).map(json.dumps),
)


def setting(keys):
    """A (key, value) pair: a value the key accepts, or anything at all."""
    return st.sampled_from(keys).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(VALID[k]) | HOSTILE))


def config_documents():
    base = {"model": A + "tiny_mlp", "data": A + "tiny_data", "epochs": "5"}
    return st.tuples(st.sets(st.sampled_from(sorted(base)), max_size=1), st.lists(setting(sorted(VALID)), max_size=3),
                     st.integers(0, 9)).map(lambda t: "".join(
        f"{k}: {v}\n" for k, v in {**{k: v for k, v in base.items() if k not in t[0]}, **dict(t[1])}.items())
        + (LAUGHS if t[2] == 0 else ""))


@FUZZ
@given(document=config_documents(), command=st.sampled_from(["estimate", "check", "compare"]))
def test_any_config_is_a_result_or_one_error_line(document, command):
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "config.yaml"
        if command == "check":
            document = "optimizer: {lr: 0.01}\nadamlr:\n" + "".join(f"  {line}\n" for line in document.splitlines())
        path.write_text(document)
        if command == "compare":
            r = cli(command, "--config", path, "--samples", "2", "--quiet", "--epochs", "1", "--arms", "adamlr",
                    "--seeds", "0", "--out", f"{root}/out")
        else:
            extra = ["--lr-key", "optimizer.lr", "--format", "json"] if command == "check" else []
            r = cli(command, "--config", path, "--samples", "2", "--quiet", "--probe-steps", "0", "--max-iter", "20",
                    *extra, "--cache-dir", f"{root}/cache")
    sound(r)


OPTIONS = {f"--{k.replace('_', '-')}": VALID[k] for k in ("epochs", "steps", "loss", "weights", "scale", "method",
                                                           "tol", "seed", "device", "dtype", "loss_floor", "hvp",
                                                           "chunk_size", "batch_size", "norm_mode", "rule",
                                                           "parallel", "inputs", "targets", "output", "model", "data")}
OPTIONS |= {"--section": ["adamlr"], "--config": ["/dev/null"], "--cache-dir": ["cache"], "--strict": []}
OPTION_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters=":", blacklist_categories=["Cs"]), max_size=20),
    st.sampled_from(["0", "1", "-1", "1e400", "1e300", "1e20", "1e-300", "nan", "inf", "-inf", "", " ", "9" * 30,
                     str(2**64), str(2**63), "cross_entropyy", "cuda:99", "/dev/zero", "/dev/null", "a:b", "nope.py:f",
                     "x" * 10_000, "0,1", "1,0", "labels", "-", "training_step", "model"]),
)


def option():
    """An option with a value it accepts, or anything at all (``--strict`` is a flag)."""
    return st.sampled_from(sorted(OPTIONS)).flatmap(lambda o: st.just((o,)) if o == "--strict" else st.tuples(
        st.just(o), st.sampled_from(OPTIONS[o]) | OPTION_VALUES))


@FUZZ
@given(chosen=st.lists(option(), min_size=1, max_size=3))
def test_any_option_value_is_a_result_or_one_error_line(chosen):
    with tempfile.TemporaryDirectory() as root:
        args = [*ESTIMATE, "--max-iter", "20", "--cache-dir", f"{root}/c"]
        for option_and_value in chosen:
            if option_and_value[0] == "--cache-dir":
                option_and_value = ("--cache-dir", f"{root}/{option_and_value[1]}")
            args += option_and_value
        r = cli(*args)
    sound(r)


# --- fault injection: a run killed anywhere (between samples, mid-journal-line, mid-store) loses nothing ----------

FAULTY = dict(epochs=5, samples=5, seed=2, probe_steps=0)  # what tests/assets/faulty_run.py runs


@pytest.fixture(scope="module")
def uninterrupted():
    return adamlr.estimate(A + "tiny_mlp", A + "tiny_data", **FAULTY)


def journaled(root, key):
    return {s["index"] for s in Cache(Path(root)).journal(key)[0]} if key else set()


@settings(max_examples=int(os.environ.get("ADAMLR_FAULT_EXAMPLES", 3)), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kills=st.lists(st.tuples(st.sampled_from(["sample", "journal", "store"]), st.integers(1, 4)), min_size=1,
                      max_size=2))
@example(kills=[("journal", 2), ("sample", 2)])  # a torn line, then a rerun's samples: none may be lost
@example(kills=[("sample", 2), ("store", 1)])
def test_a_run_killed_anywhere_resumes_to_the_same_k_hat(uninterrupted, kills):
    with tempfile.TemporaryDirectory() as root:
        key, kept, stored = None, set(), False
        for point, n in kills:
            out = subprocess.run([sys.executable, "tests/assets/faulty_run.py", root, point, str(n)],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode in (0, -signal.SIGKILL), out.stderr[-2000:]
            stored = stored or out.returncode == 0
            key = key or next((p.stem for p in Path(root).glob("*/*.json*") if not p.name.startswith(".")), None)
            now = journaled(root, key)
            finished = {"sample": n, "journal": n - 1, "store": 5}[point]  # samples this run finished before its kill
            assert stored or (now >= kept and len(now) >= min(5, len(kept) + finished)), (point, n, kept, now)
            kept = now
        r = cli("estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "5", "--samples", "5", "--seed",
                "2", "--probe-steps", "0", "--json", "--quiet", "--cache-dir", root)
    assert sound(r) is None and r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["k_hat"] == uninterrupted.k_hat and d["lr"] == uninterrupted.lr
    assert [s["spectral_norm"] for s in d["samples"]] == [s.spectral_norm for s in uninterrupted.samples]
    resumed = [w for w in d["warnings"] if w.startswith("resumed")]
    assert d["cache"]["hit"] is stored or resumed == ([f"resumed {len(kept)} finished samples from the journal"]
                                                       if kept else [])
