"""SGD, Adam and AdamW held to ``torch.optim`` step by step, the way a training loop drives them.

Gradients come from autograd (ours and PyTorch's, on the same losses), and they accumulate: some steps
run two backward passes, some steps do not zero the gradients at all, others zero them with
``set_to_none=True`` or ``False``, and one parameter gets no gradient on some steps (PyTorch's
gradient is then set to the bits of ours, so that only the optimizers differ). After every
step each parameter is compared with PyTorch's (float64: 1e-12 relative), the optimizer state and
``state_dict`` are compared with PyTorch's, and every ``.grad`` must be bit-for-bit what it was
before ``step()``: an optimizer reads the gradient and never writes into it.
"""

import inspect

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn, optim

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 20
TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}
# the set-up check of the two autograds: a float32 gradient is a sum with cancellation (2c·(p − t) + 0.3·p²),
# so its round-off is relative to its terms, not to itself; the optimizers then get the same bits anyway
GRAD_TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _losses(params, targets, step, pass_index, lib):
    """A smooth loss per parameter: Σ c·(p − t)² + 0.1·p³, its scale changing with the step and the pass."""
    scale = 1.0 + 0.15 * step + 0.5 * pass_index
    total = None
    for i, (p, t) in enumerate(zip(params, targets)):
        if i == 2 and step % 4 == 3:
            continue  # no gradient for this parameter on this step (a None grad after set_to_none)
        term = (((p - t) ** 2) * (scale * (i + 1))).sum() + ((p**3) * 0.1).sum()
        total = term if total is None else total + term
    return total


def _state_equal(ours_state, ref_state, p, r, tol, where):
    assert set(ours_state) == set(ref_state), where
    for key, value in ours_state.items():
        ref_value = ref_state[key]
        if key == "step":
            assert float(value) == float(ref_value), where
        else:
            np.testing.assert_allclose(np.asarray(value), ref_value.detach().numpy(), **tol, err_msg=f"{where} {key}")


def _drive(make_ours, make_ref, dtype, steps=STEPS):
    gen = np.random.default_rng(11)
    init = [gen.standard_normal(s).astype(dtype) for s in SHAPES]
    targets = [gen.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [nn.Parameter(mt.tensor(w.copy())) for w in init]
    ref = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in init]
    our_targets = [mt.tensor(t) for t in targets]
    ref_targets = [torch.from_numpy(t) for t in targets]
    opt, ref_opt = make_ours(ours), make_ref(ref)
    tol = TOLERANCE[dtype]
    for step in range(steps):
        if step % 5 == 0:
            opt.zero_grad(set_to_none=True)
            ref_opt.zero_grad(set_to_none=True)
        elif step % 5 == 2:
            opt.zero_grad(set_to_none=False)
            ref_opt.zero_grad(set_to_none=False)
        # other steps: the gradients of the last step stay and the new ones add to them
        for k in range(2 if step % 3 == 1 else 1):
            _losses(ours, our_targets, step, k, mt).backward()
            _losses(ref, ref_targets, step, k, torch).backward()
        grads = [p.grad for p in ours]
        before = [None if g is None else g.array.copy() for g in grads]
        for p, r in zip(ours, ref):  # the same gradients go in: a check of the set-up, then the same bits
            assert (p.grad is None) == (r.grad is None)
            if p.grad is not None:
                np.testing.assert_allclose(p.grad.numpy(), r.grad.numpy(), **GRAD_TOLERANCE[dtype])
                r.grad.copy_(torch.from_numpy(p.grad.numpy()))  # in place: PyTorch's later passes add to it
        opt.step()
        ref_opt.step()
        for i, (p, r) in enumerate(zip(ours, ref)):
            where = f"parameter {i} after step {step + 1}"
            assert p.grad is grads[i], f"{where}: step() replaced .grad"
            if before[i] is not None:
                assert p.grad.array.dtype == before[i].dtype and p.grad.array.tobytes() == before[i].tobytes(), \
                    f"{where}: step() changed .grad"
            assert p.dtype == dtype, where
            np.testing.assert_allclose(p.numpy(), r.detach().numpy(), **tol, err_msg=where)
            _state_equal(opt.state.get(p, {}), ref_opt.state.get(r, {}), p, r, tol, where)
    sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    assert list(sd["state"]) == list(ref_sd["state"])
    for i in sd["state"]:
        _state_equal(sd["state"][i], ref_sd["state"][i], None, None, tol, f"state_dict entry {i}")
    return opt, ours


SGD_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, dampening=0.3),
    dict(lr=0.01, momentum=0.8, nesterov=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, momentum=0.9, dampening=0.5, weight_decay=0.05),
    dict(lr=0.01, momentum=0.7, nesterov=True, weight_decay=0.2),
    dict(lr=0.01, maximize=True),
    dict(lr=0.005, momentum=0.9, maximize=True, weight_decay=0.1),
    dict(lr=0.005, momentum=0.9, nesterov=True, maximize=True, weight_decay=0.1),
]
ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.02, betas=(0.8, 0.95)),
    dict(lr=0.02, betas=(0.3, 0.5)),  # 1 − β1 ≥ ½: the other branch of PyTorch's lerp
    dict(lr=0.01, eps=1e-2),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True),
    dict(lr=0.01, maximize=True),
    dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
]
ADAMW_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, weight_decay=0.2),
    dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1, maximize=True, betas=(0.7, 0.9)),
]
CASES = ([("SGD", kw) for kw in SGD_CASES] + [("Adam", kw) for kw in ADAM_CASES]
         + [("AdamW", kw) for kw in ADAMW_CASES])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_every_step_matches_torch_and_leaves_grad_alone(name, kw, dtype):
    _drive(lambda ps: getattr(optim, name)(ps, **kw), lambda ps: getattr(torch.optim, name)(ps, **kw), dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_the_signature_is_torchs(name):
    ours, theirs = inspect.signature(getattr(optim, name)), inspect.signature(getattr(torch.optim, name))
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [(p.name, p.kind) for p in theirs.parameters.values()]
    for p in theirs.parameters.values():
        if p.default is not inspect.Parameter.empty:
            default = ours.parameters[p.name].default
            assert default == p.default and type(default) is type(p.default), p.name


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", {}), ("AdamW", dict(amsgrad=True))])
def test_the_repr_is_torchs(name, kw):
    ours = getattr(optim, name)([{"params": [nn.Parameter(mt.ones(2))]}, {"params": [nn.Parameter(mt.ones(1))],
                                                                           "lr": 0.5}], **kw)
    theirs = getattr(torch.optim, name)([{"params": [torch.nn.Parameter(torch.ones(2))]},
                                         {"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.5}], **kw)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1.0)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1e-3)), ("Adam", dict(eps=-1e-8)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, 1.0))), ("Adam", dict(betas=(-0.1, 0.9))), ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1e-3)), ("AdamW", dict(betas=(0.9, 1.5))), ("AdamW", dict(weight_decay=-0.1)),
])
def test_refuses_what_torch_refuses_naming_the_optimizer(name, kw):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kw)
    with pytest.raises(ValueError, match=f"^{name}: ") as info:
        getattr(optim, name)([nn.Parameter(mt.ones(2))], **kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.0)), ("SGD", dict(momentum=0.9, nesterov=True)), ("SGD", dict(dampening=-0.5)),
    ("SGD", dict(momentum=0.0, dampening=0.5)), ("Adam", dict(betas=(0.0, 0.0), eps=0.0)),
    ("Adam", dict(foreach=False)), ("Adam", dict(foreach=True)), ("AdamW", dict(weight_decay=0.0)),
])
def test_accepts_what_torch_accepts(name, kw):
    getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kw)
    getattr(optim, name)([nn.Parameter(mt.ones(2))], **kw)


@pytest.mark.parametrize("kw", [dict(fused=True), dict(differentiable=True), dict(capturable=True)])
def test_pytorchs_implementation_switches_are_refused_in_one_line(kw):
    with pytest.raises(ValueError, match=f"^Adam: {next(iter(kw))}=True is not supported"):
        optim.Adam([nn.Parameter(mt.ones(2))], **kw)


# ------------------------------------------------ what the mutation run found untested
def test_a_large_parameter_takes_the_blocked_update_with_the_same_numbers():
    """SGD's update of a parameter larger than one block runs block by block; its values must be
    torch's to float32 round-off of the terms (of order 1; a result near 0 has no relative bound)."""
    import torch

    from minitorch_cnn.optim.sgd import _BLOCK

    rng = np.random.default_rng(0)
    start = rng.standard_normal(_BLOCK * 2 + 123).astype(np.float32)
    grad = rng.standard_normal(start.shape).astype(np.float32)
    p, r = nn.Parameter(mt.tensor(start)), torch.nn.Parameter(torch.tensor(start))
    ours, ref = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([r], lr=0.1, momentum=0.9)
    for _ in range(3):
        p.grad, r.grad = mt.tensor(grad), torch.tensor(grad)
        ours.step()
        ref.step()
    np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(p.grad.numpy(), grad)
    assert np.abs(p.detach().numpy() - start).min() > 0  # every block was updated


def test_zero_grad_reaches_every_parameter_after_one_without_a_gradient():
    a, b, c = (nn.Parameter(mt.ones(2)) for _ in range(3))
    b.grad, c.grad = mt.ones(2), mt.ones(2)
    opt = optim.SGD([a, b, c], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert a.grad is None and b.grad.tolist() == [0.0, 0.0] and c.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None and c.grad is None


def test_step_returns_what_the_closure_returns():
    p = nn.Parameter(mt.tensor([1.0, -2.0]))
    opt = optim.Adam([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss is not None and loss.item() == 5.0
    assert opt.step() is None


def test_state_dict_numbers_parameters_across_three_groups_as_torch():
    import torch

    ours = [nn.Parameter(mt.ones(2)) for _ in range(6)]
    refs = [torch.nn.Parameter(torch.ones(2)) for _ in range(6)]
    groups = [slice(0, 1), slice(1, 3), slice(3, 6)]
    opt = optim.SGD([{"params": ours[s]} for s in groups], lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([{"params": refs[s]} for s in groups], lr=0.1, momentum=0.9)
    for p, r in zip(ours, refs):
        p.grad, r.grad = mt.ones(2), torch.ones(2)
    opt.step()
    ref.step()
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == \
        [g["params"] for g in ref.state_dict()["param_groups"]]
    assert sorted(opt.state_dict()["state"]) == sorted(ref.state_dict()["state"])


def test_load_state_dict_refuses_a_state_of_the_wrong_shape():
    p = nn.Parameter(mt.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = mt.ones(3)
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["momentum_buffer"] = mt.ones(4)
    with pytest.raises(ValueError, match="shape"):
        optim.SGD([nn.Parameter(mt.ones(3))], lr=0.1, momentum=0.9).load_state_dict(saved)
