"""dropout against PyTorch where it is the identity or all zeros: any dtype passes through, as in PyTorch
(fuzzer finding: ``F.dropout(T.tensor([1, 2]), p=0.5, training=False)`` raised TypeError in ours)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch_cnn as mt


@pytest.mark.parametrize("values", [[1, 2], [True, False], [1.5, -2.0]])
@pytest.mark.parametrize("p,training", [(0.5, False), (0.0, True), (1.0, True), (1.0, False)])
def test_identity_and_p1_match_pytorch_on_every_dtype(values, p, training):
    results = []
    for T in (mt, torch):
        x = T.tensor(values)
        y = T.nn.functional.dropout(x, p=p, training=training)
        results.append((y is x, str(y.dtype).split(".")[-1], y.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("values", [[1, 2], [True, False]])
def test_a_real_draw_on_a_non_float_tensor_is_refused_as_in_pytorch(values):
    with pytest.raises(RuntimeError):
        torch.nn.functional.dropout(torch.tensor(values), p=0.5, training=True)
    with pytest.raises(TypeError, match="dropout"):
        mt.nn.functional.dropout(mt.tensor(values), p=0.5, training=True)


def test_output_keeps_the_inputs_memory_layout_as_pytorchs():
    """PyTorch's dropout output has its input's strides: on a transposed input, ``view(-1)`` fails in both."""
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32).T
    for T, error in ((mt, Exception), (torch, RuntimeError)):
        y = T.nn.functional.dropout(T.from_numpy(a), p=0.5)
        with pytest.raises(error):
            y.view(-1)
        kept = y.numpy() != 0
        np.testing.assert_allclose(y.numpy()[kept], 2 * a[kept], rtol=1e-6)
