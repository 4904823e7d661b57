import pytest

from adamlr.errors import LoadError, UserCodeError, call_user
from adamlr.loading import load_object


def test_module_path():
    obj = load_object("tests.assets.factories:tiny_mlp")
    assert callable(obj)


def test_file_path(tmp_path):
    obj = load_object("tests/assets/standalone_model.py:make_net")
    assert obj().__class__.__name__ == "Sequential"


def test_missing_module():
    with pytest.raises(LoadError, match="no module named 'nopkg_xyz'"):
        load_object("nopkg_xyz.nets:make")


def test_missing_attribute():
    with pytest.raises(LoadError, match="found none named 'nothing_here'"):
        load_object("tests.assets.factories:nothing_here")


def test_missing_file():
    with pytest.raises(LoadError, match="no such file"):
        load_object("does/not/exist.py:make")


@pytest.mark.parametrize("spec", ["no_colon", "a:b:c", ":x", "mod:"])
def test_malformed(spec):
    with pytest.raises(LoadError, match="expected an import path"):
        load_object(spec)


def test_module_raising_on_import():
    with pytest.raises(UserCodeError, match="RuntimeError: this module is broken on purpose"):
        load_object("tests.assets.raises_on_import:x")


def test_call_user_wraps():
    def boom():
        raise KeyError("k")

    with pytest.raises(UserCodeError, match="my thing raised KeyError"):
        call_user(boom, "my thing")
