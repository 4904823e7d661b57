"""The command line through typer.testing.CliRunner: stdout is the result, errors one stderr line."""

import json
from typing import get_args

import pytest
from typer.testing import CliRunner

from adamlr import choices
from adamlr.cli import app
from adamlr.config import Settings

A = "tests.assets.factories:"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["estimate", *args])


def test_json_on_stdout_only():
    r = run("--model", A + "tiny_mlp", "--data", A + "tiny_data", "--epochs", "10", "--samples", "2", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["schema_version"] == 3 and d["T"] == 10 and len(d["samples"]) == 2
    assert d["lr"] > 0 and d["k_hat"] == max(s["spectral_norm"] for s in d["samples"])


def test_rich_report():
    r = run("-m", A + "tiny_mlp", "-d", A + "tiny_data", "--steps", "500", "--samples", "2")
    assert r.exit_code == 0
    assert "Recommended Adam learning rate" in r.stdout and "500 steps" in r.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-m", "nopkg_q:make", "-d", A + "tiny_data", "--epochs", "1"], 1, "no module named 'nopkg_q'"),
        (["-m", A + "missing", "-d", A + "tiny_data", "--epochs", "1"], 1, "found none named 'missing'"),
        (
            ["-m", A + "raising_factory", "-d", A + "tiny_data", "--epochs", "1"],
            1,
            "raised ValueError: width must be positive",
        ),
        (["-m", A + "not_a_module", "-d", A + "tiny_data", "--epochs", "1"], 1, "return an nn.Module, found int"),
        (["-m", A + "tiny_mlp", "-d", A + "empty_data", "--epochs", "1"], 1, "found empty data"),
        (["-m", A + "tiny_mlp", "-d", A + "single_batches", "--epochs", "1"], 1, "(inputs, targets) pair"),
        (["-m", A + "tiny_mlp", "-d", A + "wrong_width_data", "--epochs", "1"], 1, "accept inputs of shape (10, 7)"),
        (["-m", A + "tiny_mlp", "-d", A + "nan_data", "--epochs", "1"], 1, "finite loss"),
        (
            [
                "-m",
                A + "linear_model",
                "-d",
                A + "lsq_data",
                "--loss",
                A + "mean_output",
                "--epochs",
                "1",
                "--samples",
                "1",
            ],
            1,
            "positive Hessian spectral norm",
        ),
        (["-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "0"], 2, "expected T > 0"),
        (["-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", "--steps", "4"], 2, "found both"),
        (["-m", A + "tiny_mlp", "-d", A + "tiny_data"], 2, "found neither"),
        (
            ["-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", "--method", "qr"],
            2,
            "Invalid value for '--method': expected one of lanczos, power, found 'qr' (see 'adamlr estimate --help')",
        ),
        (["-d", A + "tiny_data", "--epochs", "3"], 2, "model: expected --model"),
        (
            [
                "-m",
                A + "tiny_mlp",
                "-d",
                A + "tiny_data",
                "--epochs",
                "1",
                "--samples",
                "2",
                "--max-iter",
                "2",
                "--tol",
                "1e-9",
                "--strict",
            ],
            3,
            "not converged",
        ),
    ],
)
def test_errors_one_line_and_exit_code(args, code, message):
    r = run(*args)
    assert r.exit_code == code, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("adamlr: error:")
    assert message in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr
    if code != 3:
        assert r.stdout == ""


def test_strict_still_prints_the_result_json():
    r = run("-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "1", "--samples", "2", "--max-iter", "2",
            "--tol", "1e-9", "--strict", "--json")
    assert r.exit_code == 3
    assert json.loads(r.stdout)["all_converged"] is False


def test_debug_shows_traceback():
    r = run("-m", A + "raising_factory", "-d", A + "tiny_data", "--epochs", "1", "--debug")
    assert r.exit_code != 0
    assert isinstance(r.exception, Exception) and "width must be positive" in str(r.exception)


CHOICE_OPTIONS = {  # option: (its Literal, the Settings field whose default the help marks)
    "--method": (choices.Method, "method"), "--weights": (choices.WeightDistribution, "weights"),
    "--dtype": (choices.DtypeName, "dtype"), "--hvp": (choices.HvpRequest, "hvp"),
    "--norm-mode": (choices.NormMode, "norm_mode"), "--rule": (choices.Rule, "rule"),
    "--parallel": (choices.Parallel, "parallel"),
}


def _help_of(command: str, option: str) -> str:
    """The help text of ``option`` as Typer declares it (not as the terminal wraps it)."""
    import typer.main

    click_command = typer.main.get_command(app).commands[command]
    return next(p.help for p in click_command.params if option in p.opts)


@pytest.mark.parametrize("option", sorted(CHOICE_OPTIONS))
def test_a_choice_options_help_lists_its_literal_and_marks_the_settings_default(option):
    kind, field = CHOICE_OPTIONS[option]
    default = getattr(Settings(epochs=1), field)
    text = _help_of("estimate", option)
    assert all(value in text for value in get_args(kind)), text
    assert f"{default} (default" in text and text.count("(default") == 1, text


@pytest.mark.parametrize("option", sorted(CHOICE_OPTIONS))
def test_a_bad_choice_is_one_usage_line_with_its_did_you_mean(option):
    kind, _ = CHOICE_OPTIONS[option]
    first = get_args(kind)[0]
    r = run("-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", option, first[:-1] + "x")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and r.stdout == "", r.stderr
    listed = ", ".join(get_args(kind))
    assert lines[0].startswith(f"adamlr: error: Invalid value for '{option}': expected one of {listed}"), lines
    assert f"did you mean {first!r}?" in lines[0]


def test_a_good_choice_reaches_the_settings_as_given():
    r = run("-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", "--samples", "1", "--method", "power",
            "--dtype", "float64", "--rule", "paper", "--json")
    assert r.exit_code == 0, r.stderr
    settings = json.loads(r.stdout)["settings"]
    assert (settings["method"], settings["dtype"], settings["rule"]) == ("power", "float64", "paper")


def test_usage_error_from_click_is_2():
    r = run("--samples", "many")
    assert r.exit_code == 2


def test_config_precedence(tmp_path):
    cfg = tmp_path / "adamlr.yaml"
    cfg.write_text(f"model: {A}tiny_mlp\ndata: {A}tiny_data\nepochs: 40\nsamples: 3\nseed: 5\n")
    r = run("--config", str(cfg), "--samples", "2", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert len(d["samples"]) == 2 and d["T"] == 40 and d["settings"]["seed"] == 5


def test_config_errors_listed(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"model: {A}tiny_mlp\ndata: {A}tiny_data\nepochs: ten\ncolour: red\n")
    r = run("--config", str(cfg))
    assert r.exit_code == 2
    assert "epochs: expected an integer" in r.stderr and "colour: unknown option" in r.stderr


def test_unreadable_config(tmp_path):
    r = run("--config", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2 and "readable YAML" in r.stderr


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("adamlr ")
