"""Sample architectures and data readers (IDX and CIFAR-10 binary) on files written here."""

import gzip
import struct

import numpy as np
import pytest
import torch

from adamlr.zoo import data, nets


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(raw)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_like_reader(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 12, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    x, y = data.read_mnist_like(tmp_path, True, "mnist")
    assert x.shape == (12, 1, 28, 28) and y.dtype == torch.int64
    mean, std = data.STATS["mnist"]
    assert torch.allclose(x[3, 0], (torch.from_numpy(images[3]).float() / 255 - mean) / std)
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))


def test_idx_rejects_bad_magic(tmp_path):
    (tmp_path / "f").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(tmp_path / "f")


def test_cifar_binary_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = np.concatenate([rng.integers(0, 10, (20, 1)), rng.integers(0, 256, (20, 3072))], axis=1)
        records.astype(np.uint8).tofile(tmp_path / name)
    monkeypatch.setenv("ADAMLR_CIFAR10_DIR", str(tmp_path))
    x, y = data.cifar10_train()
    assert x.shape == (100, 3, 32, 32) and y.shape == (100,)
    raw = np.fromfile(tmp_path / "data_batch_1.bin", dtype=np.uint8).reshape(-1, 3073)
    red = (
        torch.from_numpy(raw[0, 1:1025].astype(np.float32)).view(32, 32) / 255 - data.CIFAR_MEAN[0]
    ) / data.CIFAR_STD[0]
    assert torch.allclose(x[0, 0], red) and y[0] == raw[0, 0]
    sub_x, sub_y = data.per_class_subset((x, y), 2)
    assert all((sub_y == c).sum() <= 2 for c in range(10))


def test_cifar_refuses_missing_binary(tmp_path, monkeypatch):
    (tmp_path / "data_batch_1").write_bytes(b"pickled")
    monkeypatch.setenv("ADAMLR_CIFAR10_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not read: unpickling runs code"):
        data.cifar10_train()


def test_missing_directory_message(monkeypatch):
    monkeypatch.delenv("ADAMLR_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"\$ADAMLR_MNIST_DIR"):
        data.mnist_train()


def test_digits_shapes_and_split():
    x, y = data.digits()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    (xa, _), (xb, _) = data.digits_train(), data.digits_test()
    assert xa.shape[0] + xb.shape[0] == 1797


@pytest.mark.skipif(not data.Path(data.FASHION_DEFAULT_DIR).is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
def test_fashion_mini_from_debian_package():
    x, y = data.fashion_mini()
    assert x.shape == (5500, 1, 28, 28) and set(y.unique().tolist()) == set(range(10))
    assert data.fashion_mini_test()[0].shape == (1000, 1, 28, 28)
    again = data.fashion_mini()[1]
    assert torch.equal(y, again)  # the subset is fixed


@pytest.mark.parametrize(
    "factory, shape, n_params",
    [
        (nets.mlp3_fashion, (2, 1, 28, 28), 784 * 1000 + 1000 + 2 * (1000 * 1000 + 1000) + 1000 * 10 + 10),
        (nets.lenet_fashion, (2, 1, 28, 28), None),
        (nets.vgg9_cifar10, (2, 3, 32, 32), None),
        (nets.mlp_digits, (2, 1, 8, 8), None),
    ],
)
def test_nets_forward(factory, shape, n_params):
    model = factory()
    assert model(torch.zeros(shape)).shape == (2, 10)
    if n_params is not None:
        assert sum(p.numel() for p in model.parameters()) == n_params


def test_vgg9_has_nine_weight_layers():
    layers = [m for m in nets.vgg9().modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 9
