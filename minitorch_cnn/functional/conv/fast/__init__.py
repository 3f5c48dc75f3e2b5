"""The fast engine's convolutions: every algorithm in its own file, one interface.

Each module here is one algorithm and answers the same three things of a ``ConvSpec``
(``functional/conv/spec.py``):

* ``applies(spec)``: it can compute this layer (its geometry, its arrays' kernel path);
* ``pays(spec)``: it was measured faster than the chunked column matrix on such layers
  (``python -m benchmarks.direct`` / ``.winograd``; the figures are in ``benchmarks/RESULTS.md``);
* ``FUNCTION``: its ``Function``, called as ``FUNCTION.apply(input, weight, bias, spec=spec)``.

``ALGORITHMS`` lists them in order of preference: ``policy.choose`` takes the first that applies
and pays. Adding an algorithm is one file here and one line below. Each is proven equal to the
reference op (``functional/conv/reference.py``) by one conformance suite
(``tests/functional/conv/test_conformance.py``), which runs every entry of this registry.
"""

from . import batch_last, depthwise, direct, im2col, winograd

ALGORITHMS = {algorithm.NAME: algorithm for algorithm in (  # the setting's name -> the module
    depthwise,  # groups = C = O: one kh×kw filter per channel, computed directly
    winograd,  # 3×3, stride 1: Winograd's minimal filtering ("auto" and "winograd" only)
    direct,  # stride 1 and few taps (a net's first layer): loops over the padded image
    batch_last,  # stride 1, small images: the column matrix with the batch last
    im2col,  # everything else: the column matrix in cache-sized chunks
)}

__all__ = ["ALGORITHMS"]
