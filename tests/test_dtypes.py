"""``mt.dtype``: PyTorch's dtype names and facts, and the NumPy protocol that lets the engine use them."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import minitorch_cnn as mt
from minitorch_cnn.dtypes import numpy_dtype, to_dtype

NAMES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
ALIASES = ["float", "double", "half", "long", "int", "short"]


@pytest.mark.parametrize("name", NAMES + ALIASES)
def test_every_dtype_name_and_alias_is_torchs(name):
    ours, theirs = getattr(mt, name), getattr(torch, name)
    assert isinstance(ours, mt.dtype) and isinstance(theirs, torch.dtype)
    assert repr(ours) == str(ours) == repr(theirs).replace("torch.", "minitorch_cnn.")
    for fact in ("is_floating_point", "is_signed", "is_complex", "itemsize"):
        assert getattr(ours, fact) == getattr(theirs, fact), fact


def test_aliases_are_the_same_objects_and_bool_underscore_is_kept():
    assert mt.float is mt.float32 and mt.double is mt.float64 and mt.half is mt.float16
    assert mt.long is mt.int64 and mt.int is mt.int32 and mt.short is mt.int16 and mt.bool_ is mt.bool
    assert torch.float is torch.float32 and torch.long is torch.int64 and torch.int is torch.int32


@pytest.mark.parametrize("name", NAMES)
def test_a_tensors_dtype_is_the_object_and_prints_as_torchs(name):
    x = mt.zeros(2, dtype=getattr(mt, name))
    assert x.dtype is getattr(mt, name) and type(x.dtype) is mt.dtype
    assert str(x.dtype) == str(torch.zeros(2, dtype=getattr(torch, name)).dtype).replace("torch.", "minitorch_cnn.")
    assert x.dtype.is_floating_point == x.is_floating_point() == torch.zeros(2, dtype=getattr(torch, name)).is_floating_point()
    assert x.element_size() == torch.zeros(2, dtype=getattr(torch, name)).element_size()


def test_numpy_reads_the_dtype_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.dtype(mt.float32) == np.float32 and np.dtype(mt.bool) == np.bool_
        assert np.zeros(3, dtype=mt.float32).dtype == np.float32
        assert np.arange(3).astype(mt.int16).dtype == np.int16
        t = mt.ones(2, dtype=mt.float64)
        assert np.ones(2).astype(t.dtype).dtype == np.float64 and np.asarray(t, dtype=t.dtype).dtype == np.float64
        assert np.issubdtype(mt.float16, np.floating) and not np.issubdtype(mt.int8, np.floating)


def test_numpy_attributes_are_read_through():
    assert mt.float32.kind == "f" and mt.int64.kind == "i" and mt.uint8.kind == "u" and mt.bool.kind == "b"
    assert mt.float32.name == "float32" and mt.bool.name == "bool" and mt.float64.char == "d"
    assert mt.float32.type is np.float32 and mt.float16.type(1.5) == np.float16(1.5)
    assert mt.int32.dtype == np.dtype("int32") and type(mt.int32.dtype) is type(np.dtype("int32"))
    with pytest.raises(AttributeError):
        mt.float32.no_such_attribute  # noqa: B018


def test_equality_and_hash_match_the_numpy_dtype():
    assert mt.float32 == np.float32 and np.float32 == mt.float32
    assert mt.float32 == np.dtype("float32") and np.dtype("float32") == mt.float32
    assert mt.float32 == mt.float32 and mt.float32 != mt.float64 and mt.float32 != np.float64
    assert mt.float32 == "float32" and mt.float32 == "float" and mt.int64 == "long"  # names as PyTorch spells them
    assert mt.float32 != None and mt.float32 != 3 and mt.float32 != "nope"  # noqa: E711
    assert hash(mt.float32) == hash(np.dtype("float32"))
    assert {np.dtype("int64"): "i8"}[mt.int64] == "i8" and {mt.int64: "i8"}[np.dtype("int64")] == "i8"
    assert mt.float32 in (np.float32, np.float64) and mt.int8 not in (np.float32, np.float64)


def test_dtypes_pickle_and_copy_to_the_same_object():
    for d in (mt.float32, mt.bool, mt.uint8):
        assert pickle.loads(pickle.dumps(d)) is d and copy.copy(d) is d and copy.deepcopy(d) is d


@pytest.mark.parametrize("spelling", [mt.float64, np.float64, np.dtype("float64"), "float64", "double", float,
                                      "minitorch_cnn.float64", "torch.float64"])
def test_every_factory_and_move_accepts_every_spelling(spelling):
    makers = [lambda d: mt.zeros(2, dtype=d), lambda d: mt.ones(2, 3, dtype=d), lambda d: mt.empty(2, dtype=d),
              lambda d: mt.rand(2, dtype=d), lambda d: mt.randn(2, dtype=d), lambda d: mt.full((2,), 1.5, dtype=d),
              lambda d: mt.eye(2, dtype=d), lambda d: mt.linspace(0, 1, 3, dtype=d), lambda d: mt.arange(3, dtype=d),
              lambda d: mt.tensor([1, 2], dtype=d), lambda d: mt.Tensor([1, 2], dtype=d),
              lambda d: mt.normal(0.0, 1.0, size=(2,), dtype=d), lambda d: mt.randint(0, 5, (2,), dtype=d),
              lambda d: mt.zeros_like(mt.ones(2), dtype=d), lambda d: mt.ones_like(mt.ones(2), dtype=d),
              lambda d: mt.ones(2).to(d), lambda d: mt.ones(2).to(dtype=d), lambda d: mt.ones(2).type(d),
              lambda d: mt.ones(2).to("cpu", d)]
    for make in makers:
        assert make(spelling).dtype is mt.float64


def test_pytorchs_names_win_over_numpys_for_strings():
    # NumPy reads "float" as float64 and "int" as int64; PyTorch's float is float32 and int is int32
    assert mt.zeros(2, dtype="float").dtype is mt.float32 and mt.zeros(2, dtype="int").dtype is mt.int32
    assert mt.ones(2, dtype=mt.float64).to("float").dtype is mt.float32
    assert to_dtype("half") is mt.float16 and numpy_dtype("long") == np.dtype("int64")
    for python_type in (int, float, bool):  # Python's int is int64 and float float64, in both
        assert str(mt.zeros(2, dtype=python_type).dtype).removeprefix("minitorch_cnn.") \
            == str(torch.zeros(2, dtype=python_type).dtype).removeprefix("torch.")


def test_a_bad_dtype_is_one_clear_type_error():
    for bad in ("nope", None, 3.5, object()):
        with pytest.raises(TypeError, match=r"dtype: expected a dtype \(e.g. minitorch_cnn.float32\)"):
            to_dtype(bad)
    with pytest.raises(TypeError, match=r"dtype: expected a dtype"):
        mt.zeros(2, dtype="nope")


def test_other_numpy_dtypes_get_a_dtype_object_too():
    x = mt.Tensor(np.zeros(2, np.uint16))
    assert x.dtype is to_dtype(np.uint16) and repr(x.dtype) == "minitorch_cnn.uint16" and x.dtype == np.uint16
    assert not x.dtype.is_signed and x.dtype.itemsize == 2


@pytest.mark.parametrize("name", NAMES)
def test_type_strings_are_torchs_with_our_package_name(name):
    ours, theirs = mt.zeros(2, dtype=getattr(mt, name)), torch.zeros(2, dtype=getattr(torch, name))
    assert ours.type() == theirs.type().replace("torch.", "minitorch_cnn.")
    assert mt.zeros(2).type() == "minitorch_cnn.FloatTensor"
    for prefix in ("torch.", "minitorch_cnn."):  # a type string converts, as in PyTorch
        assert mt.zeros(2).type(prefix + theirs.type().removeprefix("torch.")).dtype is ours.dtype


def test_default_dtype_is_a_dtype_object_and_takes_every_spelling():
    assert mt.get_default_dtype() is mt.float32 and str(mt.get_default_dtype()) == "minitorch_cnn.float32"
    try:
        for spelling in (mt.float64, np.float64, "float64", "double"):
            mt.set_default_dtype(spelling)
            assert mt.get_default_dtype() is mt.float64 and mt.tensor([1.5]).dtype is mt.float64
            mt.set_default_dtype(mt.float32)
        with pytest.raises(TypeError, match=r"set_default_dtype: expected float32 or float64, got minitorch_cnn.int64"):
            mt.set_default_dtype(mt.int64)
    finally:
        mt.set_default_dtype(mt.float32)
    assert mt.get_default_dtype() is mt.float32
