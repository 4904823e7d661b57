"""Degenerate models and data (issue 28): every outcome is a result, with warnings where it is doubtful, or one
error line and a documented exit code; never a traceback, and the cache and journal stay readable.

First the named regression tests, one per failure found (the first a new user's), then the property-based test
that goes looking for the next ones."""

import json

import pytest
from typer.testing import CliRunner

import adamlr
from adamlr.cli import app

D = "tests.assets.degenerate:"
EXIT_CODES = {0, 1, 2, 3, 4, 130}
runner = CliRunner()


def no_traceback(r):
    """The CLI's contract: a documented exit code, no traceback, at most one error line."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in EXIT_CODES and "Traceback" not in r.stderr, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("adamlr: error:")]
    assert len(errors) == (r.exit_code != 0), r.stderr[-2000:]


# --- regression tests: each failure found, by name ------------------------------------------------------------------

def test_breast_cancer_raw_features_full_batch_is_a_result():
    """The issue's case: nn.Linear(30, 2) on raw breast-cancer features saturates the softmax, so sample 0's ‖H‖ is
    0 on every subset the growth tried, and `_accuracy` divided by it (ZeroDivisionError)."""
    r = adamlr.estimate(D + "breast_cancer_linear", D + "breast_cancer_raw", epochs=200, loss="cross_entropy")
    assert r.recommended_lr > 0 and r.lr > 0 and r.k_hat > 0
    assert r.accuracy is not None and r.accuracy.k_hat_change is not None and r.accuracy.k_hat_change >= 0


def test_breast_cancer_raw_features_through_the_cli(tmp_path):
    r = runner.invoke(app, ["estimate", "-m", D + "breast_cancer_linear", "-d", D + "breast_cancer_raw", "--epochs",
                            "200", "--loss", "cross_entropy", "--json", "--quiet", "--cache-dir", str(tmp_path)])
    no_traceback(r)
    assert r.exit_code == 0
    assert json.loads(r.stdout)["recommended_lr"] > 0
