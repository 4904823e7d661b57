"""Data sets of the paper as tensor pairs ``(X, y)``, read from local files only.

* digits: scikit-learn's bundled 8×8 digits (``pip install adamlr[samples]``), no download.
* Fashion-MNIST: IDX files from Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist``) or ``$ADAMLR_FASHION_MNIST_DIR``.
* MNIST: IDX files in ``$ADAMLR_MNIST_DIR``.
* CIFAR-10: the *binary* version (``data_batch_1.bin`` … ``test_batch.bin``) in
  ``$ADAMLR_CIFAR10_DIR``. The pickled "python version" is refused: unpickling runs code.

"mini" subsets follow the paper (section 5): 5,500 train / 1,000 test images for the
MNIST-like sets; 500 train / 100 test images per class for CIFAR-10. Subsets are drawn
with a fixed seed, so every run sees the same images.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

FASHION_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
# Per-set pixel mean and std (of the full training sets), for standardisation.
STATS = {"mnist": (0.1307, 0.3081), "fashion": (0.2860, 0.3530)}
# The authors' code normalises (Fashion-)MNIST with transforms.Normalize((0.5,), (0.5,)): pixels to [−1, 1].
PAPER_CODE_MEAN_STD = (0.5, 0.5)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
SUBSET_SEED = 0

Pair = tuple[torch.Tensor, torch.Tensor]


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not, into an array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} declares shape {shape} but holds {data.size} values")
    return data.reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"expected {stem}[.gz] in {directory}, found no such file")


def read_mnist_like(directory: str | Path, train: bool, kind: str,
                    mean_std: tuple[float, float] | None = None) -> Pair:
    """Images ``(n, 1, 28, 28)`` as (x/255 − mean)/std, and int64 labels.

    ``mean_std`` defaults to the set's own pixel mean and std (``STATS[kind]``).
    """
    directory = Path(directory)
    prefix = "train" if train else "t10k"
    images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
    mean, std = mean_std or STATS[kind]
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - mean) / std
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _dir_from_env(var: str, default: str | None, what: str) -> Path:
    value = os.environ.get(var) or default
    if not value or not Path(value).is_dir():
        raise FileNotFoundError(f"expected {what} in a directory named by ${var}, found {value or 'nothing set'}")
    return Path(value)


def subset(pair: Pair, size: int, seed: int = SUBSET_SEED) -> Pair:
    """A fixed random subset of ``size`` examples."""
    x, y = pair
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(x.shape[0], generator=gen)[:size]
    return x[idx].contiguous(), y[idx].contiguous()


def per_class_subset(pair: Pair, per_class: int, seed: int = SUBSET_SEED) -> Pair:
    """A fixed random subset with ``per_class`` examples of each label."""
    x, y = pair
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(x.shape[0], generator=gen)
    picks = torch.cat([order[y[order] == c][:per_class] for c in torch.unique(y)])
    picks = picks[torch.randperm(picks.numel(), generator=gen)]
    return x[picks].contiguous(), y[picks].contiguous()


def read_cifar10(directory: str | Path, train: bool) -> Pair:
    """CIFAR-10 binary version: records of 1 label byte + 3,072 pixel bytes (R, G, B planes)."""
    directory = Path(directory)
    if (directory / "cifar-10-batches-bin").is_dir():
        directory = directory / "cifar-10-batches-bin"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"expected CIFAR-10 binary files {', '.join(missing)} in {directory} "
            "(the pickled python version is not read: unpickling runs code)"
        )
    raw = np.concatenate([np.fromfile(directory / n, dtype=np.uint8) for n in names])
    if raw.size % 3073:
        raise ValueError(f"CIFAR-10 files in {directory} are not whole 3,073-byte records")
    records = raw.reshape(-1, 3073)
    x = torch.from_numpy(records[:, 1:].astype(np.float32) / 255.0).reshape(-1, 3, 32, 32)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (x - mean) / std, torch.from_numpy(records[:, 0].astype(np.int64))


def _digits_split() -> tuple[Pair, Pair]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the digits sample needs scikit-learn: pip install 'adamlr[samples]'") from exc
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(bunch.target.astype(np.int64))
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    order = torch.randperm(x.shape[0], generator=gen)
    cut = 1437  # 80 % train, 20 % test
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def digits() -> Pair:
    """All 1,797 of scikit-learn's 8×8 digits, standardised: ``(1797, 1, 8, 8)`` and labels."""
    (xa, ya), (xb, yb) = _digits_split()
    return torch.cat([xa, xb]), torch.cat([ya, yb])


def digits_train() -> Pair:
    return _digits_split()[0]


def digits_test() -> Pair:
    return _digits_split()[1]


def fashion_dir() -> Path:
    return _dir_from_env("ADAMLR_FASHION_MNIST_DIR", FASHION_DEFAULT_DIR,
                         "Fashion-MNIST IDX files (apt-get install dataset-fashion-mnist)")


def fashion_train(mean_std: tuple[float, float] | None = None) -> Pair:
    return read_mnist_like(fashion_dir(), True, "fashion", mean_std)


def fashion_test(mean_std: tuple[float, float] | None = None) -> Pair:
    return read_mnist_like(fashion_dir(), False, "fashion", mean_std)


def fashion_mini() -> Pair:
    """5,500 Fashion-MNIST training images (the paper's mini-MNIST size)."""
    return subset(fashion_train(), 5500)


def fashion_mini_test() -> Pair:
    return subset(fashion_test(), 1000)


def fashion_mini_paper() -> Pair:
    """The same 5,500 images as :func:`fashion_mini`, normalised as the authors' code does: (x − 0.5)/0.5."""
    return subset(fashion_train(PAPER_CODE_MEAN_STD), 5500)


def fashion_mini_test_paper() -> Pair:
    """The same 1,000 test images as :func:`fashion_mini_test`, normalised (x − 0.5)/0.5."""
    return subset(fashion_test(PAPER_CODE_MEAN_STD), 1000)


def mnist_train() -> Pair:
    return read_mnist_like(_dir_from_env("ADAMLR_MNIST_DIR", None, "MNIST IDX files"), True, "mnist")


def mnist_test() -> Pair:
    return read_mnist_like(_dir_from_env("ADAMLR_MNIST_DIR", None, "MNIST IDX files"), False, "mnist")


def mnist_mini() -> Pair:
    return subset(mnist_train(), 5500)


def mnist_mini_test() -> Pair:
    return subset(mnist_test(), 1000)


def cifar10_train() -> Pair:
    return read_cifar10(_dir_from_env("ADAMLR_CIFAR10_DIR", None, "CIFAR-10 binary files"), True)


def cifar10_test() -> Pair:
    return read_cifar10(_dir_from_env("ADAMLR_CIFAR10_DIR", None, "CIFAR-10 binary files"), False)


def cifar10_mini() -> Pair:
    return per_class_subset(cifar10_train(), 500)


def cifar10_mini_test() -> Pair:
    return per_class_subset(cifar10_test(), 100)
