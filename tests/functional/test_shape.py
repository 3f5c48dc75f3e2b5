"""Shape ops: reshape/view, flatten, transpose/permute, (un)squeeze, getitem, cat, stack, pad.

Each against PyTorch (forward and gradient under a random upstream gradient), gradcheck over
hypothesis shapes (sometimes non-contiguous), and index bookkeeping by hand where it is natural.
"""

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, gradcheck, shapes


def _both(ours, theirs, arrays_):
    out = check_against_torch(ours, theirs, arrays_)
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True) for a in arrays_])
    return out


# ------------------------------------------------------------------ reshape, flatten, permute, squeeze
@given(data=st.data())
def test_reshape_and_view_against_torch_and_gradcheck(data):
    a = data.draw(arrays())
    target = list(data.draw(st.permutations(a.shape)))  # same number of elements, reordered sizes
    if data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    out = _both(lambda x: F.reshape(x, *target), lambda t: t.reshape(*target), [a])
    np.testing.assert_array_equal(out.numpy().reshape(-1), np.array(a).reshape(-1))  # row-major order kept
    # view needs strides that allow it (``a`` may be a transposed view): on the contiguous copy it always works
    check_against_torch(lambda x: x.contiguous().view(tuple(target)), lambda t: t.contiguous().view(tuple(target)), [a])


@given(data=st.data())
def test_flatten_against_torch_and_gradcheck(data):
    a = data.draw(arrays())
    s = data.draw(st.integers(-a.ndim, a.ndim - 1))
    e = data.draw(st.integers(s % a.ndim, a.ndim - 1))
    _both(lambda x: F.flatten(x, s, e), lambda t: torch.flatten(t, s, e), [a])


@given(data=st.data())
def test_permute_and_transpose_against_torch_a_loop_and_gradcheck(data):
    a = data.draw(arrays())
    dims = data.draw(st.permutations(range(a.ndim)))
    out = _both(lambda x: x.permute(*dims), lambda t: t.permute(*dims), [a])
    for idx in np.ndindex(a.shape):
        assert out.numpy()[tuple(idx[d] for d in dims)] == a[idx]
    d0, d1 = data.draw(st.integers(-a.ndim, a.ndim - 1)), data.draw(st.integers(-a.ndim, a.ndim - 1))
    _both(lambda x: F.transpose(x, d0, d1), lambda t: torch.transpose(t, d0, d1), [a])


@given(data=st.data())
def test_squeeze_unsqueeze_against_torch_and_gradcheck(data):
    a = data.draw(arrays(data.draw(shapes(max_side=2))))  # many sizes of 1
    _both(lambda x: F.squeeze(x), lambda t: torch.squeeze(t), [a])
    d = data.draw(st.integers(-a.ndim, a.ndim - 1))
    _both(lambda x: x.squeeze(d), lambda t: t.squeeze(d), [a])
    u = data.draw(st.integers(-a.ndim - 1, a.ndim))
    _both(lambda x: x.unsqueeze(u), lambda t: t.unsqueeze(u), [a])


def test_matrix_T_is_the_transpose():
    a = np.arange(6.0).reshape(2, 3)
    check_against_torch(lambda x: x.T * 2, lambda t: t.T * 2, [a])


# ------------------------------------------------------------------ getitem
@st.composite
def _basic_index(draw, shape):
    """Ints, positive-step slices, None and Ellipsis: what both NumPy and PyTorch accept."""
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            parts.append(slice(draw(st.none() | st.integers(-n, n)), draw(st.none() | st.integers(-n, n)),
                               draw(st.none() | st.integers(1, 3))))
        else:
            parts.append(slice(None))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if draw(st.booleans()):  # replace a run of trailing full slices by Ellipsis
        cut = draw(st.integers(0, len(parts)))
        parts = parts[:cut] + [Ellipsis]
    return tuple(parts)


@given(data=st.data())
def test_getitem_basic_against_torch_and_gradcheck(data):
    a = data.draw(arrays())
    index = data.draw(_basic_index(a.shape))
    _both(lambda x: x[index], lambda t: t[index], [a])


@given(data=st.data())
def test_getitem_integer_arrays_with_repeats_against_torch_a_loop_and_gradcheck(data):
    a = data.draw(arrays(data.draw(shapes(min_dims=2, max_dims=3))))
    axis = data.draw(st.integers(0, a.ndim - 1))
    picks = np.array(data.draw(st.lists(st.integers(-a.shape[axis], a.shape[axis] - 1), min_size=1, max_size=6)))
    index = (slice(None),) * axis + (picks,)
    out = _both(lambda x: x[index], lambda t: t[(slice(None),) * axis + (torch.tensor(picks),)], [a])
    # by hand: every pick of the same position adds its gradient
    x = mt.Tensor(a, requires_grad=True)
    g = np.random.default_rng(0).standard_normal(out.shape)
    x[index].backward(mt.tensor(g))
    expected = np.zeros(a.shape)
    for j, p in enumerate(picks):
        sel = (slice(None),) * axis + (p % a.shape[axis],)
        expected[sel] += g[(slice(None),) * axis + (j,)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_getitem_with_repeated_indices_adds_their_gradients():
    x = mt.tensor([1.0, 2.0, 3.0], dtype=mt.float64, requires_grad=True)
    (x[[0, 0, 2, 0]] * mt.tensor([1.0, 10.0, 100.0, 1000.0], dtype=mt.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1011.0, 0.0, 100.0])


@given(data=st.data())
def test_getitem_boolean_mask_against_torch_and_gradcheck(data):
    a = data.draw(arrays(data.draw(shapes(max_dims=3))))
    mask = np.array(data.draw(arrays(a.shape))) > 0
    _both(lambda x: x[mt.Tensor(mask)], lambda t: t[torch.tensor(mask)], [a])
    row_mask = mask.reshape(a.shape[0], -1)[:, 0]  # a mask over the first axis only
    _both(lambda x: x[row_mask], lambda t: t[torch.tensor(row_mask)], [a])


def test_getitem_mixed_int_array_slice_and_ellipsis_against_torch():
    a = np.arange(60.0).reshape(3, 4, 5) / 7
    picks = np.array([[0, 2], [2, 2]])
    check_against_torch(lambda x: x[1:, picks, ::2], lambda t: t[1:, torch.tensor(picks), ::2], [a])
    check_against_torch(lambda x: x[..., picks], lambda t: t[..., torch.tensor(picks)], [a])
    check_against_torch(lambda x: x[None, -1, ..., 1:4:2], lambda t: t[None, -1, ..., 1:4:2], [a])


@pytest.mark.parametrize("index", [np.s_[::-1], np.s_[:, 3:0:-2], np.s_[None, ..., ::-1]])
def test_getitem_and_setitem_refuse_negative_steps_as_torch(index):
    a = np.arange(20.0).reshape(4, 5) / 3
    with pytest.raises(ValueError, match="step must be greater than zero"):
        torch.tensor(a)[index]
    with pytest.raises(ValueError, match=r"getitem: step must be greater than zero"):
        mt.Tensor(a)[index]
    with pytest.raises(ValueError, match=r"getitem: step must be greater than zero"):
        mt.Tensor(a)[index] = 0.0


def test_getitem_out_of_range_names_the_op():
    with pytest.raises(IndexError, match=r"getitem: index .* is invalid for a tensor of shape \(2, 3\)"):
        mt.ones(2, 3)[5]


# ------------------------------------------------------------------ cat, stack
@st.composite
def _joinable(draw, same_shape):
    shape = draw(shapes(max_dims=3, max_side=3))
    dim = draw(st.integers(-len(shape) - int(same_shape), len(shape) - 1 + int(same_shape)))
    axis = dim % (len(shape) + int(same_shape))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        s = list(shape)
        if not same_shape:
            s[axis] = draw(st.integers(1, 3))
        parts.append(draw(arrays(tuple(s))))
    return parts, dim, axis


@given(case=_joinable(same_shape=False))
def test_cat_against_torch_index_bookkeeping_and_gradcheck(case):
    parts, dim, axis = case
    out = _both(lambda *xs: F.cat(xs, dim), lambda *ts: torch.cat(ts, dim), parts)
    offset = 0
    for p in parts:
        for idx in np.ndindex(p.shape):
            moved = idx[:axis] + (idx[axis] + offset,) + idx[axis + 1:]
            assert out.numpy()[moved] == p[idx]
        offset += p.shape[axis]
    assert out.shape[axis] == offset


@given(case=_joinable(same_shape=True))
def test_stack_against_torch_index_bookkeeping_and_gradcheck(case):
    parts, dim, axis = case
    out = _both(lambda *xs: F.stack(xs, dim), lambda *ts: torch.stack(ts, dim), parts)
    for k, p in enumerate(parts):
        for idx in np.ndindex(p.shape):
            assert out.numpy()[idx[:axis] + (k,) + idx[axis:]] == p[idx]


def test_cat_with_a_constant_part_sends_gradients_to_the_others_only():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((1, 3)), rng.standard_normal((4, 3))
    check_against_torch(lambda *xs: mt.cat(xs), lambda *ts: torch.cat(ts), [a, b, c],
                        requires_grad=[True, False, True])


def test_cat_and_stack_reject_bad_input_naming_the_op():
    a = mt.ones(2, 3)
    with pytest.raises(ValueError, match=r"cat: expected tensors of equal sizes except along dim 0, got \(2, 3\) "
                                         r"and \(2, 4\)"):
        mt.cat([a, mt.ones(2, 4)])
    assert mt.cat([a, mt.ones(2, 3, dtype=mt.float64)]).dtype == mt.float64  # promoted, as torch.cat
    with pytest.raises(ValueError, match=r"cat: expected a non-empty sequence"):
        mt.cat([])
    with pytest.raises(ValueError, match=r"cat: dim 2 is out of range for a 2-D tensor"):
        mt.cat([a, a], 2)
    with pytest.raises(ValueError, match=r"stack: expected tensors of the same shape, got \(2, 3\) and \(3, 2\)"):
        mt.stack([a, mt.ones(3, 2)])
    with pytest.raises(TypeError, match=r"cat: expected every element to be a Tensor, got list"):
        mt.cat([a, [1.0, 2.0, 3.0]])


# ------------------------------------------------------------------ pad
@given(data=st.data())
def test_pad_against_torch_a_loop_and_gradcheck(data):
    a = data.draw(arrays(data.draw(shapes(max_dims=3, max_side=3))))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * a.ndim).filter(lambda w: len(w) % 2 == 0))
    value = data.draw(st.sampled_from([0.0, -1.5]))
    out = _both(lambda x: F.pad(x, widths, value=value), lambda t: torch.nn.functional.pad(t, widths, value=value), [a])
    lo = [0] * a.ndim
    for i in range(len(widths) // 2):
        lo[a.ndim - 1 - i] = widths[2 * i]
    for idx in np.ndindex(out.shape):
        src = tuple(i - l for i, l in zip(idx, lo))
        inside = all(0 <= s < n for s, n in zip(src, a.shape))
        assert out.numpy()[idx] == (a[src] if inside else value)


# ------------------------------------------------------------------ bad input
def test_reshape_to_a_wrong_size_names_the_op():
    x = mt.ones(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"view: .* as \(-1, 4\)"):
        x.view(-1, 4)
    with pytest.raises(ValueError, match=r"reshape: .* as \(-1, -1\)"):
        x.reshape(-1, -1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: x.transpose(0, 3), r"transpose: dim 3 is out of range for a 3-D tensor"),
        (lambda x: x.permute(0, 1), r"permute: expected a permutation of 3 axes, got \(0, 1\)"),
        (lambda x: x.permute(0, 0, 1), r"permute: expected a permutation of 3 axes"),
        (lambda x: x.squeeze(-4), r"squeeze: dim -4 is out of range for a 3-D tensor"),
        (lambda x: x.unsqueeze(5), r"unsqueeze: dim 5 is out of range for a 4-D tensor"),
        (lambda x: x.flatten(2, 1), r"flatten: start_dim 2 comes after end_dim 1"),
    ],
)
def test_bad_dims_and_arguments_name_the_op(call, message):
    with pytest.raises(ValueError, match=message):
        call(mt.ones(2, 3, 4))
