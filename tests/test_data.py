import pytest
import torch

from adamlr.data import as_batches
from adamlr.errors import DataError
from tests.assets import factories as f

CPU = torch.device("cpu")


def batches(data, **kw):
    return as_batches(data, name="d", device=CPU, dtype=torch.float64, **kw)


def sizes(source):
    return [x.shape[0] for x, _ in source]


def test_tensor_pair_full_and_chunked():
    assert sizes(batches(f.tiny_data())) == [23]
    src = batches(f.tiny_data(), chunk_size=10)
    assert sizes(src) == [10, 10, 3]
    assert src.n_examples == 23 and src.n_batches == 3


def test_loader_dataset_generator_factory():
    assert sizes(batches(f.tiny_loader)) == [5, 5, 5, 5, 3]
    assert sizes(batches(f.tiny_dataset)) == [23]
    gen_source = batches(f.tiny_generator)
    assert sizes(gen_source) == [7, 7, 7, 2]
    gen_source._kept = None  # force the factory to be re-called
    assert sizes(gen_source) == [7, 7, 7, 2]


def test_one_shot_iterator_without_factory():
    with pytest.raises(DataError, match="one-shot"):
        batches(f.tiny_generator())


def test_floats_cast_and_labels_kept():
    x, y = next(iter(batches(f.tiny_data())))
    assert x.dtype == torch.float64 and y.dtype == torch.int64


def test_empty():
    with pytest.raises(DataError, match="found empty data"):
        list(batches(f.empty_data()))


def test_not_pairs():
    with pytest.raises(DataError, match=r"\(inputs, targets\) pair, a longer tuple or a dict, found tuple of length 1"):
        list(batches(f.single_batches()))


def test_wrong_type():
    with pytest.raises(DataError, match="found int"):
        batches(42)


def test_mismatched_rows():
    with pytest.raises(DataError, match="same number of rows"):
        batches((torch.zeros(3, 2), torch.zeros(4)))


def test_kept_only_under_budget():
    src = batches(f.tiny_data(), chunk_size=5, keep_bytes=10)
    list(src)
    assert not src.kept_in_memory
    src2 = batches(f.tiny_data(), chunk_size=5)
    list(src2)
    assert src2.kept_in_memory
