"""``mt.Size``, the type of ``Tensor.shape`` and ``Tensor.size()``, against ``torch.Size``."""

import pickle

import numpy as np
import pytest
import torch

import minitorch_cnn as mt


def same(ours, theirs):
    """A Size where PyTorch gives a Size (printed alike, our package's name for torch), else the same value."""
    if isinstance(theirs, torch.Size):
        assert type(ours) is mt.Size and repr(ours) == repr(theirs).replace("torch.", "minitorch_cnn.")
    else:
        assert not isinstance(ours, mt.Size) and ours == theirs and type(ours) is type(theirs)


def test_shape_and_size_are_sizes_as_in_torch():
    x, t = mt.zeros(1, 6, 28, 28), torch.zeros(1, 6, 28, 28)
    for ours, theirs in [(x.shape, t.shape), (x.size(), t.size())]:
        assert type(ours) is mt.Size and isinstance(ours, tuple) and isinstance(theirs, tuple)
        assert repr(ours) == str(ours) == "minitorch_cnn.Size([1, 6, 28, 28])"
        assert repr(theirs) == "torch.Size([1, 6, 28, 28])"
        assert ours.numel() == theirs.numel() == 4704
    assert x.size(1) == t.size(1) == 6 and type(x.size(-1)) is int
    assert x.size(dim=1) == t.size(dim=1)
    assert mt.tensor(1.0).shape == torch.tensor(1.0).shape == () and repr(mt.tensor(1.0).shape) == "minitorch_cnn.Size([])"


def test_slicing_and_arithmetic_keep_the_type_as_in_torch():
    ours, theirs = mt.Size([1, 6, 28, 28]), torch.Size([1, 6, 28, 28])
    for op in (lambda s: s[1:], lambda s: s[::-1], lambda s: s[0:0], lambda s: s[1], lambda s: s[-1],
               lambda s: s + (1,), lambda s: (1,) + s, lambda s: s * 2, lambda s: 2 * s, lambda s: s + s,
               lambda s: s.count(28), lambda s: s.index(6), lambda s: len(s), lambda s: list(s)):
        same(op(ours), op(theirs))


def test_equality_and_hash_follow_tuples_as_in_torch():
    ours, theirs = mt.Size([2, 3]), torch.Size([2, 3])
    for other in [(2, 3), [2, 3], (3, 2), mt.Size([2, 3]), (2,), ()]:
        assert (ours == other) == (theirs == (torch.Size(other) if isinstance(other, mt.Size) else other))
        assert (ours != other) == (theirs != (torch.Size(other) if isinstance(other, mt.Size) else other))
    assert hash(ours) == hash((2, 3)) == hash(theirs) and {(2, 3): "x"}[ours] == "x"
    assert (ours < (3,)) == (theirs < (3,))


def test_construction_and_its_errors_as_in_torch():
    assert mt.Size() == torch.Size() == () and mt.Size([]).numel() == torch.Size([]).numel() == 1
    assert mt.Size([0, 3]).numel() == torch.Size([0, 3]).numel() == 0
    assert mt.Size([np.int64(2), True]) == torch.Size([np.int64(2), True]) == (2, 1)
    assert all(type(n) is int for n in mt.Size([np.int64(2), True]))
    assert mt.Size([mt.tensor(4)]) == torch.Size([torch.tensor(4)]) == (4,)
    for bad, kind in [([2.0], "float"), (["a"], "str")]:
        with pytest.raises(TypeError, match=rf"minitorch_cnn.Size\(\) takes an iterable of 'int' \(item 0 is '{kind}'\)"):
            mt.Size(bad)
        with pytest.raises(TypeError, match=rf"torch.Size\(\) takes an iterable of 'int' \(item 0 is '{kind}'\)"):
            torch.Size(bad)
    with pytest.raises(TypeError):
        mt.Size(5)


def test_a_size_pickles_and_makes_tensors():
    s = mt.Size([2, 3])
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is mt.Size and back == s
    assert mt.zeros(s).shape == s and mt.ones(mt.zeros(4, 5).shape).shape == (4, 5)
    assert mt.zeros(2, 3).reshape(mt.Size([3, 2])).shape == (3, 2)


def test_size_of_a_dimension_out_of_range_is_an_index_error_as_in_torch():
    for shape, dim in [((2, 3), 2), ((2, 3), -3), ((), 0)]:
        with pytest.raises(IndexError):
            torch.zeros(shape).size(dim)
        with pytest.raises(IndexError, match=r"size: dimension .* is out of range for a tensor of shape"):
            mt.zeros(shape).size(dim)
