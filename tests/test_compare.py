"""adamlr compare: schedules, metrics, resumable runs, figures, CLI."""

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from adamlr.cli import app
from adamlr.comparison import schedules as S
from adamlr.comparison.arms import paper_arms
from adamlr.comparison.runner import CompareProgress, CompareSettings, run_compare
from adamlr.data import as_batches
from tests.assets import factories as f

A = "tests.assets.factories:"


def test_scheduler_values_by_hand():
    lr = 1e-3
    assert S.linear(0, 100, lr) == lr and S.linear(25, 100, lr) == pytest.approx(7.5e-4)
    assert (
        S.step(29, 100, lr) == lr
        and S.step(30, 100, lr) == pytest.approx(1e-4)
        and S.step(95, 100, lr) == pytest.approx(1e-6)
    )
    assert S.sqrt_decay(3, 100, lr) == pytest.approx(5e-4)  # 1e-3 / sqrt(4)
    assert S.inverse_time(10, 100, lr) == pytest.approx(5e-4)  # 1e-3 / (1 + 10/10)
    assert S.exponential(2, 100, lr) == pytest.approx(1e-3 * 0.9025)
    assert S.cosine(50, 100, lr) == pytest.approx(5e-4) and S.cosine(0, 100, lr) == lr
    assert S.cosine(100, 100, lr) == pytest.approx(0.0, abs=1e-18)
    # one-cycle: starts at lr/25, peaks at lr after 30 % of the run, ends at lr/(25·1e4)
    assert S.one_cycle(0, 100, lr) == pytest.approx(4e-5)
    assert S.one_cycle(29, 100, lr) == pytest.approx(lr)
    assert S.one_cycle(99, 100, lr) == pytest.approx(4e-9)
    values = S.schedule_values("one_cycle", 100, lr)
    assert max(values) == pytest.approx(lr) and values.index(max(values)) == 29


def test_scheduler_overrides():
    assert S.schedule_values("step", 10, 1.0, {"step_size": 2, "gamma": 0.5})[:5] == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_paper_arms():
    arms = paper_arms(0.05, 10)
    names = [a.name for a in arms]
    assert names[0] == "adamlr" and arms[0].lrs == [0.05] * 10
    assert len([a for a in arms if a.family == "scheduler"]) == 7
    assert [a.lrs[0] for a in arms if a.family == "constant"] == [1e-2, 1e-3, 1e-4, 1e-5]


def test_full_gradient_norm_matches_direct_computation():
    model = f.tiny_mlp().double()
    x, y = f.tiny_data()
    source = as_batches((x, y), name="d", device=torch.device("cpu"), dtype=torch.float64, chunk_size=5)
    list(source)
    from adamlr.comparison.training import trainable
    from adamlr.objective import Objective

    objective = Objective(model, torch.nn.functional.cross_entropy, source, "cross_entropy")
    loss, grads = objective.loss_and_gradient(trainable(model))
    direct = torch.nn.functional.cross_entropy(model(x.double()), y)
    expected = torch.autograd.grad(direct, list(model.parameters()))
    assert loss == pytest.approx(float(direct.detach()), rel=1e-12)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def settings(**kw):
    base = dict(model=A + "tiny_mlp", data=A + "tiny_data", test_data=A + "tiny_data", epochs=4, lr=0.01, arms="paper")
    return CompareSettings(**(base | kw))


class Interrupt(CompareProgress):
    def __init__(self, after):
        self.after, self.started, self.skipped = after, [], []

    def arm_started(self, arm, seed, epochs):
        if len(self.started) == self.after:
            raise KeyboardInterrupt
        self.started.append(arm)

    def arm_finished(self, run, skipped):
        if skipped:
            self.skipped.append(run.arm)


def test_resume_after_interrupt_skips_finished_arms(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_compare(settings(), tmp_path, progress=Interrupt(after=3))
    assert len(list((tmp_path / "arms").glob("*.json"))) == 3
    again = Interrupt(after=99)
    results = run_compare(settings(), tmp_path, progress=again)
    assert again.skipped == ["adamlr", "linear", "step"]
    assert len(again.started) == 12 - 3
    fresh = run_compare(settings(), tmp_path / "fresh")
    for arm in ("adamlr", "linear", "const_0.01"):
        assert results["summary"][arm]["final_grad_norm"] == fresh["summary"][arm]["final_grad_norm"]


def test_out_dir_of_another_comparison_is_refused(tmp_path):
    run_compare(settings(arms="adamlr"), tmp_path)
    from adamlr.errors import UsageError

    with pytest.raises(UsageError, match="different epochs"):
        run_compare(settings(arms="adamlr", epochs=5), tmp_path)
    run_compare(settings(arms="adamlr", epochs=5), tmp_path, force=True)


def test_records_and_repeatability(tmp_path):
    a = run_compare(settings(arms="adamlr,const_0.001", seeds=(0, 1)), tmp_path / "a")
    b = run_compare(settings(arms="adamlr,const_0.001", seeds=(0, 1)), tmp_path / "b")
    run = a["runs"][0]
    assert [r["epoch"] for r in run["records"]] == [0, 1, 2, 3, 4]
    assert run["records"][0]["lr"] == 0.01 and run["records"][-1]["lr"] is None
    assert 0.0 <= run["records"][-1]["test_accuracy"] <= 1.0
    def strip(res):
        return [[{k: v for k, v in e.items() if k != "seconds"} for e in r["records"]] for r in res["runs"]]

    assert strip(a) == strip(b)
    assert a["summary"]["adamlr"]["final_grad_norm"]["std"] is not None
    lines = (tmp_path / "a" / "results.csv").read_text().splitlines()
    assert lines[0].startswith("arm,family,seed,epoch,lr,grad_norm") and len(lines) == 1 + 2 * 2 * 5


def test_mini_batch_training_runs(tmp_path):
    res = run_compare(settings(arms="adamlr", batch_size=8), tmp_path)
    assert res["batch_size"] == 8 and not res["runs"][0]["diverged"]


def test_divergence_is_recorded(tmp_path):
    res = run_compare(settings(arms="adamlr", lr=1e6, data=A + "tiny_data", epochs=6), tmp_path)
    run = res["runs"][0]
    last = run["records"][-1]
    assert run["diverged"] or last["train_loss"] > 10 * run["records"][0]["train_loss"]


def test_cli_compare_writes_everything(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--test-data", A + "tiny_data",
                                 "--epochs", "3", "--lr", "0.01", "--arms", "paper", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert len(d["summary"]) == 12
    for name in ("results.json", "results.csv", "schedulers.png", "constants.png"):
        assert (out / name).is_file()
    png = (out / "schedulers.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(out / "schedulers.png").shape[2] in (3, 4)


def test_cli_compare_table_and_estimated_lr(tmp_path):
    r = CliRunner().invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "2",
                                 "--samples", "2", "--arms", "constants", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "adamlr arm: recommended rate (search) seed 0:" in text and "the paper's α seed 0:" in text
    assert "★" in r.stdout
    assert (tmp_path / "estimate-seed0.json").is_file()


def test_cli_compare_config_errors(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: a:b\ndata: c:d\nschedulers:\n  step: {step_size: 3, gama: 0.5}\n  warp: {}\ncolour: red\n")
    r = CliRunner().invoke(app, ["compare", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    for text in ("schedulers.step.gama", "schedulers.warp", "colour: unknown option"):
        assert text in r.stderr


@pytest.mark.slow
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
def test_quick_preset_end_to_end(tmp_path):
    r = CliRunner().invoke(app, ["compare", "--preset", "lenet_full", "--quick", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["epochs"] == 3 and "adamlr" in d["summary"] and len(d["summary"]) >= 12
    assert math.isfinite(d["adamlr_lr"]["0"])


def test_range_test_picks_the_steepest_descent():
    from adamlr.comparison.range_test import _steepest

    lrs = [10 ** (-7 + 7 * i / 99) for i in range(100)]
    losses = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 3) * 4)) for lr in lrs]  # steepest at 1e-3
    assert _steepest(lrs, losses, 1e-7) == pytest.approx(1e-3, rel=0.2)


def test_range_test_on_a_real_model_suggests_a_sane_rate():
    from adamlr.comparison.range_test import lr_range_test

    torch.manual_seed(0)
    model = f.tiny_mlp()
    source = as_batches(f.tiny_data, name="d", device=torch.device("cpu"), dtype=torch.float32)
    list(source)
    lr = lr_range_test(f.tiny_mlp, model.state_dict(), source, torch.nn.functional.cross_entropy,
                       torch.device("cpu"), torch.float32, batch_size=8)
    assert 1e-5 < lr < 1.0


def test_compare_leaves_the_global_rng_alone(tmp_path):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    run_compare(settings(arms="all", lr=None, samples=1), tmp_path)
    assert torch.equal(torch.rand(3), expected)


def test_optional_optimizer_arms(tmp_path):
    """D-Adaptation, Prodigy and Schedule-Free (installed by the dev extra) train and report their step."""
    res = run_compare(settings(arms="optional", epochs=3), tmp_path)
    arms = {r["arm"]: r for r in res["runs"]}
    assert {"adamlr", "lr_range_test", "dadapt_adam", "prodigy", "schedulefree_adamw"} <= set(arms)
    for name in ("dadapt_adam", "prodigy", "schedulefree_adamw"):
        records = arms[name]["records"]
        assert not arms[name]["diverged"] and len(records) == 4
        assert all(r["lr"] is not None and r["lr"] > 0 for r in records[:-1])
        assert records[-1]["train_loss"] < records[0]["train_loss"]


def test_model_data_mismatch_is_one_line_even_with_lr(tmp_path):
    """With --lr no estimate runs first: training itself must report the mismatch clearly."""
    r = CliRunner().invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "wrong_width_data", "--epochs", "2",
                                 "--lr", "0.01", "--arms", "adamlr", "--out", str(tmp_path)])
    assert r.exit_code == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "accept inputs of shape (10, 7)" in lines[0] and "Traceback" not in r.stderr
