"""``minitorch_cnn.testing`` itself: gradcheck must catch a wrong backward and say where; the strategies
must produce what they promise (including non-contiguous layouts)."""

import re

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn.testing import GradcheckError, arrays, broadcastable_shapes, gradcheck, shapes, tensors


class Square(mt.Function):
    """out = a²; backward optionally wrong by ``ctx.bump`` at one index, or missing the factor 2."""

    @staticmethod
    def forward(ctx, a, *, bump_at=None, forget_two=False):
        ctx.save_for_backward(a)
        ctx.bump_at, ctx.forget_two = bump_at, forget_two
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        da = g * a if ctx.forget_two else 2 * g * a
        if ctx.bump_at is not None:
            da = da.copy()
            da[ctx.bump_at] += 0.5
        return (da,)


def _scaled_square(**kind):
    # a second, constant input makes the checked input number 1, not 0
    return lambda c, x: Square.apply(x, **kind) * c


A = np.array([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])


def _inputs():
    return [mt.Tensor(np.full(A.shape, 1.5)), mt.Tensor(A.copy(), requires_grad=True)]


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_gradcheck_passes_a_correct_backward(mode):
    assert gradcheck(_scaled_square(), _inputs(), mode=mode) is True


def test_gradcheck_full_names_the_input_the_worst_index_and_both_values():
    with pytest.raises(GradcheckError) as info:
        gradcheck(_scaled_square(bump_at=(1, 2)), _inputs())
    msg = str(info.value)
    assert "gradient of input 1 (shape (2, 3))" in msg
    assert "at index (1, 2)" in msg
    analytic = float(re.search(r"analytic (\S+),", msg).group(1))
    numeric = float(re.search(r"numeric (\S+) ", msg).group(1))
    assert analytic - numeric == pytest.approx(0.5, abs=1e-6)  # exactly the bump we put there
    assert "1 of 6 elements" in msg


def test_gradcheck_full_finds_the_worst_of_several_wrong_elements():
    with pytest.raises(GradcheckError, match=r"input 1 .* at index \(0, 1\).*6 of 6 elements"):
        # forgetting the factor 2 is wrong everywhere, worst where |2·g·a| is largest
        gradcheck(lambda c, x: Square.apply(x, forget_two=True) * mt.Tensor(np.array([[1, 10, 1], [1, 1, 1.0]])),
                  _inputs())


def test_gradcheck_directional_catches_a_wrong_backward_and_names_the_input():
    with pytest.raises(GradcheckError, match=r"gradcheck \(directional\): gradient of input 1 \(shape \(2, 3\)\) is "
                                             r"wrong: <analytic grad, d> = \S+, numeric derivative along d = \S+"):
        gradcheck(_scaled_square(forget_two=True), _inputs(), mode="directional")


def test_gradcheck_can_return_false_instead_of_raising():
    assert gradcheck(_scaled_square(bump_at=(0, 0)), _inputs(), raise_exception=False) is False


def test_gradcheck_checks_float32_inputs_in_float64():
    x = mt.Tensor(A.astype(np.float32), requires_grad=True)
    assert gradcheck(lambda t: (t * t).exp().sum(), [x])  # would miss 1e-4 agreement in float32 differences


def test_gradcheck_rejects_misuse():
    with pytest.raises(ValueError, match=r"gradcheck: no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, [mt.Tensor(A)])
    with pytest.raises(ValueError, match=r"gradcheck: mode must be 'full' or 'directional'"):
        gradcheck(lambda t: t * 2, [mt.Tensor(A, requires_grad=True)], mode="half")
    with pytest.raises(TypeError, match=r"gradcheck: fn must return a Tensor, got float"):
        gradcheck(lambda t: 1.0, [mt.Tensor(A, requires_grad=True)])


# ------------------------------------------------------------------ strategies
def test_arrays_are_sometimes_non_contiguous_and_sometimes_contiguous():
    strided = find(arrays((3, 4)), lambda a: not a.flags.c_contiguous and not a.flags.f_contiguous)
    transposed = find(arrays((3, 4)), lambda a: a.flags.f_contiguous and not a.flags.c_contiguous)
    plain = find(arrays((3, 4)), lambda a: a.flags.c_contiguous)
    for a in (strided, transposed, plain):
        assert a.shape == (3, 4) and a.dtype == np.float64


@given(a=arrays((2, 3), low=-1.0, high=2.0, contiguous=True))
def test_contiguous_true_always_gives_c_contiguous_values_in_range(a):
    assert a.flags.c_contiguous and a.shape == (2, 3)
    assert ((a >= -1.0) & (a <= 2.0)).all()


@given(a=arrays((2, 5), dtype=np.float32, contiguous=False))
def test_contiguous_false_gives_strided_views_of_the_requested_dtype(a):
    assert not a.flags.c_contiguous and a.dtype == np.float32 and a.shape == (2, 5)


@given(s=shapes(min_dims=2, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_their_bounds(s):
    assert 2 <= len(s) <= 3 and all(2 <= n <= 4 for n in s)


@given(t=tensors((2, 2)))
def test_tensors_are_float64_leaves_that_require_grad(t):
    assert isinstance(t, mt.Tensor) and t.requires_grad and t.is_leaf and t.dtype == np.float64


@given(pair=broadcastable_shapes(num_shapes=2, max_dims=3))
def test_broadcastable_shapes_broadcast(pair):
    a, b = pair
    np.broadcast_shapes(a, b)  # raises if not
    x = mt.Tensor(np.ones(a), requires_grad=True)
    y = mt.Tensor(np.ones(b), requires_grad=True)
    assert (x + y).shape == np.broadcast_shapes(a, b)


def test_broadcastable_shapes_include_real_broadcasting():
    find(broadcastable_shapes(), lambda p: len(p[0]) != len(p[1]) and 1 in p[0] + p[1])


def test_gradcheck_works_on_non_contiguous_inputs():
    base = np.arange(24.0).reshape(4, 6) / 10
    x = mt.Tensor(base.T[::2], requires_grad=True)
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda t: (t * t).sum(0), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Square.apply(t, forget_two=True), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Square.apply(t, forget_two=True), [x], mode="directional")


@given(data=st.data())
def test_gradcheck_accepts_every_correct_op_it_is_given(data):
    # a property of the checker: a product with a constant always passes, whatever the drawn layout
    a = data.draw(arrays())
    c = data.draw(arrays(a.shape))
    assert gradcheck(lambda x: x * mt.Tensor(c) + x.exp(), [mt.Tensor(a, requires_grad=True)])
