import pytest

from adamlr.config import Settings, merge_settings, read_yaml
from adamlr.errors import ConfigError


def test_defaults_need_a_horizon():
    with pytest.raises(ConfigError, match="found neither"):
        Settings()


def test_both_horizons():
    with pytest.raises(ConfigError, match="found both"):
        Settings(epochs=3, steps=4)


def test_every_bad_field_listed():
    with pytest.raises(ConfigError) as info:
        merge_settings({"samples": "ten", "tol": "tight", "colour": "red", "method": "arnoldi"}, {"epochs": 5})
    text = str(info.value)
    for field in (
        "samples: expected an integer",
        "tol: expected a number",
        "colour: unknown option",
        "method: expected one of",
    ):
        assert field in text


def test_ranges():
    with pytest.raises(ConfigError) as info:
        Settings(epochs=-1, samples=0, tol=2.0, scale=0.0)
    assert len(info.value.problems) == 4


def test_command_line_wins_and_replaces_horizon():
    settings, extras = merge_settings(
        {"epochs": 50, "samples": 3, "seed": 7, "model": "a:b"}, {"steps": 900, "samples": 5, "model": None}, ("model",)
    )
    assert settings.horizon == (900, "steps")
    assert settings.samples == 5 and settings.seed == 7
    assert extras["model"] == "a:b"


def test_dashes_accepted():
    settings, _ = merge_settings({"max-iter": 12, "epochs": 1}, {})
    assert settings.max_iter == 12


def test_bool_is_not_an_integer():
    with pytest.raises(ConfigError, match="samples: expected an integer"):
        Settings(epochs=1, samples=True)


def test_read_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="readable YAML"):
        read_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1, 2\n")
    with pytest.raises(ConfigError, match="syntax error"):
        read_yaml(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_yaml(scalar)
