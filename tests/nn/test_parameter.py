"""``nn.Parameter`` and ``nn.Buffer`` where PyTorch keeps them (``nn.parameter``), what ``load_state_dict``
returns and raises, and ``Module.to`` with a dtype given by name or object; each compared with PyTorch."""

import pickle

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn

torch = pytest.importorskip("torch")


def _path(cls):
    return f"{cls.__module__}.{cls.__qualname__}".replace("minitorch_cnn.", "torch.")


def test_parameter_classes_live_in_nn_parameter_as_torch():
    ours, theirs = nn.Sequential(nn.Linear(2, 3)), torch.nn.Sequential(torch.nn.Linear(2, 3))
    assert _path(type(ours[0].bias)) == _path(type(theirs[0].bias)) == "torch.nn.parameter.Parameter"
    for name in ("Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"):
        assert _path(getattr(nn, name)) == _path(getattr(torch.nn, name)), name
        assert getattr(nn.parameter, name) is getattr(nn, name)
    from minitorch_cnn.nn.module import Parameter, UninitializedParameter, is_lazy  # the old path still works

    assert Parameter is nn.Parameter and UninitializedParameter is nn.UninitializedParameter
    assert is_lazy is nn.parameter.is_lazy
    back = pickle.loads(pickle.dumps(ours[0].bias))
    assert type(back) is nn.Parameter and np.array_equal(back.numpy(), ours[0].bias.numpy())


def test_buffer_marks_an_attribute_as_a_buffer_as_torch():
    ours, theirs = nn.Module(), torch.nn.Module()
    ours.kept, ours.scratch = nn.Buffer(mt.ones(2)), nn.Buffer(mt.zeros(3), persistent=False)
    theirs.kept, theirs.scratch = torch.nn.Buffer(torch.ones(2)), torch.nn.Buffer(torch.zeros(3), persistent=False)
    assert list(ours._buffers) == list(theirs._buffers) == ["kept", "scratch"]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["kept"]
    assert type(ours.kept) is mt.Tensor and isinstance(ours.kept, nn.Buffer) and not isinstance(mt.ones(1), nn.Buffer)
    assert type(theirs.kept) is torch.Tensor and isinstance(theirs.kept, torch.nn.Buffer)


def _pair():
    return nn.Sequential(nn.Linear(2, 3)), torch.nn.Sequential(torch.nn.Linear(2, 3))


def _text(obj):
    return str(obj).replace("minitorch_cnn.", "torch.")


def test_load_state_dict_returns_what_torch_prints():
    ours, theirs = _pair()
    full = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert repr(ours.load_state_dict(full)) == repr(theirs.load_state_dict(theirs.state_dict()))
    assert repr(ours.load_state_dict(full)) == "<All keys matched successfully>"
    partial = {"0.weight": np.zeros((3, 2), np.float32), "extra": np.zeros(1, np.float32)}
    got = ours.load_state_dict(partial, strict=False)
    want = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert repr(got) == str(got) == repr(want) == "_IncompatibleKeys(missing_keys=['0.bias'], unexpected_keys=['extra'])"
    assert got == want == (["0.bias"], ["extra"]) and got.missing_keys == ["0.bias"]
    assert ours.load_state_dict(full) == ([], [])  # still a plain pair of lists when compared


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_errors_read_as_torch(strict):
    ours, theirs = _pair()
    bad = {"0.weight": np.zeros((3, 3), np.float32), "0.bias": np.zeros(4, np.float32), "y": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as got:
        ours.load_state_dict(bad, strict=strict)
    with pytest.raises(RuntimeError) as want:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()}, strict=strict)
    assert _text(got.value) == str(want.value)
    missing = {"0.weight": np.zeros((3, 2), np.float32), "y": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as got:
        ours.load_state_dict(missing)
    with pytest.raises(RuntimeError) as want:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in missing.items()})
    assert _text(got.value) == str(want.value)


@pytest.mark.parametrize("spelling,torch_dtype", [
    ("float", None), ("double", None), ("float32", None), ("float64", None),
    (mt.float64, torch.float64), (mt.float32, torch.float32), (np.float64, torch.float64),
])
def test_module_to_a_dtype_reads_names_as_torch(spelling, torch_dtype):
    ours, theirs = _pair()
    ours.to(spelling)
    want = torch_dtype or getattr(torch, spelling)  # a name: what torch.<name> is ("float" is float32)
    if torch_dtype is not None:
        theirs.to(torch_dtype)
        assert _text(ours[0].weight.dtype) == str(theirs[0].weight.dtype)
    assert _text(ours[0].weight.dtype) == str(want) and ours[0].bias.dtype == ours[0].weight.dtype


def test_module_to_refuses_integer_dtypes_and_unknown_names():
    ours, theirs = _pair()
    with pytest.raises(TypeError) as want:
        theirs.to(torch.int64)
    with pytest.raises(TypeError) as got:
        ours.to(mt.int64)
    assert str(want.value).replace(" or complex", "") == _text(got.value)  # no complex dtypes here
    with pytest.raises(TypeError, match=r"Module.to: expected a device \('cpu', 'cuda'\) or a floating dtype, got 'gpu'"):
        ours.to("gpu")
    assert ours[0].weight.dtype == mt.float32  # nothing changed
