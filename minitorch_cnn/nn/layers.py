"""The layers: modules that hold parameters (or hyper-parameters) and call one functional op.

Default initialisation follows PyTorch's distributions: ``Conv2d``/``Linear`` weights
``kaiming_uniform_(a=√5)`` (i.e. U(−1/√fan_in, 1/√fan_in)), biases U(−1/√fan_in, 1/√fan_in);
batch norm weight 1, bias 0, running mean 0, running variance 1.

A layer checks its input against its own configuration and raises an error that names the
layer (its repr), what it expected and what it got.
"""

from __future__ import annotations

import math

from .. import backend
from .. import functional as F
from ..functional._util import pair
from ..tensor import Tensor
from . import init
from .module import Module, Parameter, UninitializedBuffer, UninitializedParameter, is_lazy


def _empty(shape, device=None, dtype=None) -> Parameter:
    dtype = backend.get_default_dtype() if dtype is None else dtype
    xp = backend.get_xp(device or "cpu")
    return Parameter(xp.empty(shape, dtype=xp.dtype(dtype)))


def _check_input(layer: Module, x, ndims=None):
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer!r}: expected a Tensor input, got {type(x).__name__}")
    if ndims is not None and x.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{layer!r}: expected a {want} input, got shape {tuple(x.shape)}")


# ---------------------------------------------------------------- parameterised
class Linear(Module):
    """y = x Wᵀ + b, W (out_features, in_features), on the last axis of x."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = _empty((self.out_features, self.in_features), device, dtype)
        if bias:
            self.bias = _empty((self.out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        _check_input(self, input)
        if input.ndim < 1 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input with {self.in_features} features in its last dimension, "
                f"got shape {tuple(input.shape)}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D cross-correlation over (N, C, H, W) input (or unbatched (C, H, W)); weight (O, C/groups, kh, kw)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: groups={groups} must be positive and divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair("Conv2d", kernel_size, "kernel_size")
        self.stride = pair("Conv2d", stride, "stride")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("Conv2d: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = pair("Conv2d", padding, "padding")
        self.dilation = pair("Conv2d", dilation, "dilation")
        self.padding_mode = padding_mode
        self.weight = _empty((self.out_channels, self.in_channels // self.groups, *self.kernel_size), device, dtype)
        if bias:
            self.bias = _empty((self.out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        _check_input(self, input, (3, 4))
        unbatched = input.ndim == 3
        channels = input.shape[0] if unbatched else input.shape[1]
        if channels != self.in_channels:
            raise ValueError(
                f"{self!r}: expected input with {self.in_channels} channels, shape (N, {self.in_channels}, H, W), "
                f"got shape {tuple(input.shape)} ({channels} channels)"
            )
        x = input.unsqueeze(0) if unbatched else input
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _BatchNorm(Module):
    _ndims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = _empty((self.num_features,), device, dtype)
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = _empty((self.num_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            xp = backend.get_xp(device or "cpu")
            fdtype = xp.dtype(backend.get_default_dtype() if dtype is None else dtype)
            self.register_buffer("running_mean", Tensor(xp.zeros((self.num_features,), fdtype)))
            self.register_buffer("running_var", Tensor(xp.ones((self.num_features,), fdtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        _check_input(self, input, self._ndims)
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input with {self.num_features} channels (axis 1), got shape {tuple(input.shape)}"
            )
        # as torch: batch statistics in training, or always when no running statistics are kept
        use_batch_stats = self.training or self.running_mean is None
        track = self.training and self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if (not self.training or self.track_running_stats) else None,
            self.running_var if (not self.training or self.track_running_stats) else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=self.momentum,
            eps=self.eps,
            num_batches_tracked=self.num_batches_tracked if track else None,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W): statistics per channel over N, H, W."""

    _ndims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L): statistics per channel."""

    _ndims = (2, 3)


# ---------------------------------------------------------------- activations
class ReLU(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch code; the result is always a new tensor

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    """clip(input, min_val, max_val) elementwise (``F.hardtanh``)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if max_val < min_val:
            raise ValueError(f"Hardtanh: expected min_val <= max_val, got min_val={min_val} and max_val={max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(input, 0), 6) elementwise (``F.relu6``), MobileNetV2's activation."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input):
        return F.relu6(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, -1 if self.dim is None else self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Identity(Module):
    def __init__(self, *args, **kwargs):  # PyTorch's Identity ignores its arguments
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        _check_input(self, input)
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability p in training (scaling the rest by 1/(1−p)); identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


# ---------------------------------------------------------------- pooling
class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        _check_input(self, input, (3, 4))
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            return_indices=self.return_indices)

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        _check_input(self, input, (3, 4))
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        _check_input(self, input, (3, 4))
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        _check_input(self, input, (3, 4))
        return F.adaptive_max_pool2d(input, self.output_size, return_indices=self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


# ---------------------------------------------------------------- losses
def _check_reduction(layer: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{layer}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of logits (N, C, ...) against class indices or class probabilities:
    ``F.cross_entropy`` with its ``weight`` (a buffer, as PyTorch's), ``ignore_index``, ``reduction`` and
    ``label_smoothing``."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        _check_reduction("CrossEntropyLoss", reduction)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (N, C, ...): ``F.nll_loss`` with its ``weight`` (a
    buffer), ``ignore_index`` and ``reduction``."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__()
        _check_reduction("NLLLoss", reduction)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(Module):
    """Mean (or summed) squared error."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Hardtanh",
    "Identity",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "NLLLoss",
    "ReLU",
    "ReLU6",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


# ---------------------------------------------------------------- lazy layers
class _LazyMixin:
    """A layer whose input size is read from its first input, as PyTorch's ``Lazy*`` modules.

    Until then its parameters (and, for batch norm, running statistics) are placeholders,
    ``UninitializedParameter`` / ``UninitializedBuffer`` holding an empty array, and its size
    attribute is 0. They are the same objects that the materialised layer keeps, so an optimizer
    made before the first forward updates them, and their device and dtype follow ``.to()``.

    ``load_state_dict`` fills a placeholder with the saved tensor, whatever its shape (as PyTorch);
    the layer stays lazy until its first forward, which checks the input against the loaded shapes.
    The first ``forward`` sets the size attribute, gives each remaining placeholder its array,
    initialises it with the ordinary class's ``reset_parameters`` (what was loaded is kept), and
    turns the module into that class (``type(m) is nn.Conv2d`` afterwards, as in PyTorch), so later
    calls cost nothing extra.
    """

    cls_to_become: type = Module
    _size_attr = ""

    def _tensors(self):
        """(name, tensor) of the parameters and buffers that exist."""
        return [(n, t) for n, t in [*self._parameters.items(), *self._buffers.items()] if t is not None]

    def _make_lazy(self):
        for name, t in self._tensors():
            if t.ndim != 0:  # num_batches_tracked (0-D) keeps its value
                t.array = backend.xp_of(t.array).empty((0,), t.dtype)
                t.__class__ = UninitializedParameter if name in self._parameters else UninitializedBuffer
        setattr(self, self._size_attr, 0)

    def has_uninitialized_params(self) -> bool:
        return any(is_lazy(t) for _, t in self._tensors())

    def _shapes(self, size):  # {name: shape} of the materialised parameters and buffers
        raise NotImplementedError

    def initialize_parameters(self, input):
        """Give every placeholder its shape from ``input`` and initialise it; then become the ordinary class."""
        _check_input(self, input, self._lazy_ndims)
        size = int(input.shape[self._lazy_axis(input)])
        shapes = self._shapes(size)
        for name, t in self._tensors():
            if name in shapes and not is_lazy(t) and tuple(t.shape) != shapes[name]:
                raise ValueError(f"{self!r}: an input of shape {tuple(input.shape)} needs {name} of shape "
                                 f"{shapes[name]}, the loaded {name} has shape {tuple(t.shape)}")
        setattr(self, self._size_attr, size)
        if self.has_uninitialized_params():
            kept = {}
            for name, t in self._tensors():
                if is_lazy(t):
                    t.materialize(shapes[name])
                else:
                    kept[name] = t.array.copy()  # loaded by load_state_dict: reset_parameters must not change it
            self.reset_parameters()
            for name, t in self._tensors():
                if name in kept:
                    t.array[...] = kept[name]
        self.__class__ = self.cls_to_become

    def forward(self, input):
        cls = self.cls_to_become
        self.initialize_parameters(input)
        return cls.forward(self, input)


class LazyLinear(_LazyMixin, Linear):
    """``Linear`` with ``in_features`` read from the first input's last axis."""

    cls_to_become = Linear
    _size_attr = "in_features"
    _lazy_ndims = None

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(1, out_features, bias, device, dtype)
        self._make_lazy()

    @staticmethod
    def _lazy_axis(input):
        return -1

    def _shapes(self, size):
        return {"weight": (self.out_features, size), "bias": (self.out_features,)}


class LazyConv2d(_LazyMixin, Conv2d):
    """``Conv2d`` with ``in_channels`` read from the first input ((N, C, H, W) or (C, H, W))."""

    cls_to_become = Conv2d
    _size_attr = "in_channels"
    _lazy_ndims = (3, 4)

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self._make_lazy()

    @staticmethod
    def _lazy_axis(input):
        return 0 if input.ndim == 3 else 1

    def _shapes(self, size):
        if size % self.groups:
            raise ValueError(f"{self!r}: input channels {size} are not divisible by groups={self.groups}")
        return {"weight": (self.out_channels, size // self.groups, *self.kernel_size), "bias": (self.out_channels,)}


class _LazyBatchNorm(_LazyMixin):
    _size_attr = "num_features"

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(1, eps, momentum, affine, track_running_stats, device, dtype)
        self._make_lazy()

    @staticmethod
    def _lazy_axis(input):
        return 1

    def _shapes(self, size):
        return {name: (size,) for name in ("weight", "bias", "running_mean", "running_var")}


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``BatchNorm2d`` with ``num_features`` read from the first input's channel axis (N, C, H, W)."""

    cls_to_become = BatchNorm2d
    _lazy_ndims = (4,)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``BatchNorm1d`` with ``num_features`` read from the first input's axis 1 ((N, C) or (N, C, L))."""

    cls_to_become = BatchNorm1d
    _lazy_ndims = (2, 3)
