"""The JSON outputs validate against the shipped JSON Schema files."""

import json
from importlib import resources

import jsonschema
from referencing import Registry, Resource
from typer.testing import CliRunner

from adamlr.cli import app

A = "tests.assets.factories:"


def schema(name):
    return json.loads(resources.files("adamlr").joinpath("schemas", name).read_text())


def validator(name):
    registry = Registry().with_resources(
        [(s["$id"], Resource.from_contents(s)) for s in (schema("estimate.schema.json"), schema("check.schema.json"))]
    )
    return jsonschema.Draft202012Validator(schema(name), registry=registry)


def test_estimate_json_validates():
    r = CliRunner().invoke(
        app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", "--samples", "2", "--json"]
    )
    validator("estimate.schema.json").validate(json.loads(r.stdout))


def test_schema_rejects_a_broken_output():
    r = CliRunner().invoke(
        app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "3", "--samples", "1", "--json"]
    )
    d = json.loads(r.stdout)
    del d["k_hat"]
    assert not validator("estimate.schema.json").is_valid(d)


def test_check_json_validates(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        f"adamlr: {{model: '{A}tiny_mlp', data: '{A}tiny_data', epochs: 3, samples: 2}}\nopt: {{lr: 0.001}}\n"
    )
    r = CliRunner().invoke(app, ["check", "--config", str(cfg), "--lr-key", "opt.lr", "--format", "json"])
    assert r.exit_code in (0, 4), r.stderr
    validator("check.schema.json").validate(json.loads(r.stdout))
