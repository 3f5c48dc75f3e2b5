"""2-D convolution (cross-correlation, as in PyTorch): ``conv2d``, its reference op and its fast engine.

Read it beside ``docs/conv_backprop.md``, in this order:

* ``conv2d`` below: the argument checks, then one ``ConvSpec`` for the call and the op that computes it;
* ``reference.py``: ``Conv2dFn``, the page's lines with its names, forward and backward;
* ``kernels/im2col.py``: the column layout and the loops that fill it.

The rest is the fast engine, which a learner can skip: ``policy.py`` chooses the algorithm of each
layer (``mt.set_conv_algorithm``) and owns the memory budgets; ``fast/`` holds one file per
algorithm, each proven equal to ``Conv2dFn`` by the conformance suite.
"""

from __future__ import annotations

from .._util import check_float, check_ndim, check_tensor, pair
from ..padding import pad
from .policy import choose, spec_for
from .reference import Conv2dFn


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of ``input`` with ``weight``, as ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W) float tensor, or (C, H, W) for one image (the output is then 3-D too).
        weight: (O, C/groups, kh, kw) tensor of the same dtype and device.
        bias: optional (O,) tensor added to every output position of each channel.
        stride: int or (sh, sw), the step between windows.
        padding: int or (ph, pw) zeros on each side, or ``"valid"`` (no padding) or ``"same"``
            (output size = input size; stride must be 1; an odd total goes bottom/right).
        dilation: int or (dil_h, dil_w), the step between the taps of a window.
        groups: split C and O into this many groups; each output channel sees only its group's
            input channels (groups = C is a depthwise convolution).

    Returns:
        (N, O, Ho, Wo) with ``Ho = floor((H + 2ph - dil_h·(kh-1) - 1) / sh) + 1`` (same for Wo); an
        empty batch (N = 0) gives an empty output and zero weight and bias gradients, as PyTorch.

    Infinities and NaN: every algorithm but Winograd (``fast/winograd.py``) gives them where
    PyTorch's float64 CPU kernel does, the padding's zeros included in the products (an inf or NaN
    weight on a padded tap makes NaN, as does an inf gradient in the weight gradient). A deliberate
    difference in float32: PyTorch 2.13 runs oneDNN on most float32 layers (a batch above one,
    groups, kernels above 3×3 or large inputs; the choice also depends on its thread count), which
    skips the padded taps (inf where ours is NaN), and its own loops, which multiply them as ours,
    on small single-image ones. Float32 sums near float32's largest value can also overflow in a
    different order from PyTorch's (an inf or -inf where PyTorch stays finite, or the reverse; a
    product that overflows to inf before an inf of the other sign is added makes NaN where PyTorch's
    fused multiply-add keeps that inf). This can happen only at an output whose sum of |x·w| terms
    and |bias| is beyond float32's largest value; everywhere else the NaN and inf positions are
    PyTorch's.

    >>> from minitorch_cnn.tensor import Tensor
    >>> import numpy as np
    >>> x = Tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    >>> k = Tensor(np.array([[[[0.0, 1.0], [2.0, 3.0]]]]))
    >>> conv2d(x, k).numpy()[0, 0]
    array([[19., 25.],
           [37., 43.]])
    """
    op = "conv2d"
    check_float(op, input)
    check_float(op, weight, "weight")
    check_ndim(op, input, (3, 4))
    if input.ndim == 3:  # one unbatched image (C, H, W), as PyTorch allows: a batch of one
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check_weight_and_bias(op, input, weight, bias, groups)
    stride = _positive_pair(op, stride, "stride")
    dilation = _positive_pair(op, dilation, "dilation")
    top, bottom, left, right = _conv_padding(op, padding, weight.shape[2:], dilation, stride)
    _check_window_fits(op, input, weight, (top, bottom, left, right), dilation, padding)
    if (bottom, right) != (top, left):  # "same" with an even kernel: one more row/column bottom/right
        input = pad(input, (0, right - left, 0, bottom - top))
    spec = spec_for(input.array, weight.array, stride=stride, padding=(top, left), dilation=dilation, groups=groups)
    return choose(spec).apply(input, weight, bias, spec=spec)


def _check_weight_and_bias(op, input, weight, bias, groups):
    check_ndim(op, weight, 4, "weight")
    if weight.dtype != input.dtype:
        raise TypeError(f"{op}: expected weight of the input's dtype {input.dtype.name}, got {weight.dtype.name}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: expected groups to be a positive int, got {groups!r}")
    C, (O, Cg) = input.shape[1], weight.shape[:2]
    if C % groups or O % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels and the output channels, "
            f"got {C} input and {O} output channels"
        )
    if Cg * groups != C:
        raise ValueError(
            f"{op}: weight of shape {tuple(weight.shape)} expects {Cg * groups} input channels "
            f"(weight.shape[1]={Cg} × groups={groups}), got input of shape {tuple(input.shape)} with {C} channels"
        )
    if min(weight.shape) < 1 or min(input.shape[1:]) < 1:  # an empty batch (N = 0) is fine, as in PyTorch
        raise ValueError(f"{op}: expected non-empty weight and input channels and size, got shapes "
                         f"{tuple(input.shape)} and {tuple(weight.shape)}")
    if bias is not None:
        check_tensor(op, bias, "bias")
        if bias.shape != (O,):
            raise ValueError(f"{op}: expected bias of shape ({O},) for {O} output channels, got {tuple(bias.shape)}")
        if bias.dtype != input.dtype:
            raise TypeError(f"{op}: expected bias of the input's dtype {input.dtype.name}, got {bias.dtype.name}")


def _check_window_fits(op, input, weight, pads, dilation, padding):
    (_, _, H, W), (kh, kw) = input.shape, weight.shape[2:]
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if span_h > H + pads[0] + pads[1] or span_w > W + pads[2] + pads[3]:
        raise ValueError(
            f"{op}: kernel of size ({span_h}, {span_w}) (dilated) is larger than the padded input "
            f"({H + pads[0] + pads[1]}, {W + pads[2] + pads[3]}); input shape {tuple(input.shape)}, padding {padding!r}"
        )


def _positive_pair(op, value, name):
    v = pair(op, value, name)
    if v[0] < 1 or v[1] < 1:
        raise ValueError(f"{op}: expected a positive {name}, got {value!r}")
    return v


def _conv_padding(op, padding, kernel, dilation, stride):
    """``padding`` (int, pair, "valid" or "same") -> (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total_h, total_w = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            # the odd row/column of padding goes to the bottom/right, as in PyTorch
            return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        raise ValueError(f"{op}: expected padding to be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(op, padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: expected a non-negative padding, got {padding!r}")
    return (ph, ph, pw, pw)


__all__ = ["Conv2dFn", "conv2d"]
