"""SGD and Adam against ``torch.optim``: 20 steps from equal weights with equal gradients.

The gradients are a fixed function of the step and the current weights (the gradient of a
quadratic plus a step-dependent drift), computed in NumPy and handed to both optimizers, so the
check isolates the update rules. float32 throughout, compared to float32 round-off.
"""

import json

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn, optim

torch = pytest.importorskip("torch")

SHAPES = [(5, 4), (4,), (3, 2, 2)]


def _grad(step, weights, i):
    gen = np.random.default_rng(100 * step + i)
    return (0.7 * weights + gen.standard_normal(weights.shape)).astype(np.float32)


def _run_both(make_ours, make_ref, steps=20, skip=None):
    gen = np.random.default_rng(0)
    init = [gen.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [nn.Parameter(mt.tensor(w.copy())) for w in init]
    ref = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in init]
    opt, ref_opt = make_ours(ours), make_ref(ref)
    for step in range(steps):
        opt.zero_grad()
        ref_opt.zero_grad()
        for i, (p, r) in enumerate(zip(ours, ref)):
            if skip is not None and skip(step, i):
                continue  # no gradient this step: both optimizers must leave it (and its state) alone
            g = _grad(step, r.detach().numpy(), i)
            p.grad = mt.tensor(g.copy())
            r.grad = torch.from_numpy(g.copy())
        opt.step()
        ref_opt.step()
    for p, r in zip(ours, ref):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.numpy(), r.detach().numpy(), rtol=2e-6, atol=2e-6)
    return opt, ref_opt, ours, ref


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1, maximize=True),
    dict(lr=0.05, maximize=True),
    dict(lr=0.01, weight_decay=1.0),
    dict(lr=0.001, momentum=1.0),
]


@pytest.mark.parametrize("kw", SGD_CASES, ids=[str(k) for k in SGD_CASES])
def test_sgd_matches_torch(kw):
    _run_both(lambda ps: optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw))


ADAM_CASES = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.01, weight_decay=0.05),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.02, eps=1e-3, amsgrad=True, weight_decay=0.01),
    dict(lr=0.01, weight_decay=0.05, maximize=True),
    dict(lr=0.01, weight_decay=1.0),
]


@pytest.mark.parametrize("kw", ADAM_CASES, ids=[str(k) for k in ADAM_CASES])
def test_adam_matches_torch(kw):
    _run_both(lambda ps: optim.Adam(ps, **kw), lambda ps: torch.optim.Adam(ps, foreach=False, **kw))


def test_parameters_without_gradient_are_skipped_like_torch():
    skip = lambda step, i: i == 1 and step % 3 == 0  # noqa: E731
    _run_both(lambda ps: optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01), skip=skip)
    _run_both(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), skip=skip)


def test_param_groups_with_their_own_lr():
    def ours(ps):
        return optim.SGD([{"params": ps[:1], "lr": 0.5}, {"params": ps[1:]}], lr=0.1, momentum=0.9)

    def ref(ps):
        return torch.optim.SGD([{"params": ps[:1], "lr": 0.5}, {"params": ps[1:]}], lr=0.1, momentum=0.9)

    opt, ref_opt, *_ = _run_both(ours, ref)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_state_dict_is_pytorchs_layout_json_plus_arrays_and_resumes_exactly(kind):
    def make(ps):
        return optim.SGD(ps, lr=0.05, momentum=0.9) if kind == "sgd" else optim.Adam(ps, lr=0.01, amsgrad=True)

    def make_ref(ps):
        return torch.optim.SGD(ps, lr=0.05, momentum=0.9) if kind == "sgd" else torch.optim.Adam(ps, lr=0.01, amsgrad=True)

    opt, ref_opt, ours, ref = _run_both(make, make_ref, steps=10)
    sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert sd["param_groups"][0]["params"] == ref_sd["param_groups"][0]["params"] == [0, 1, 2]
    assert set(sd["state"]) == set(ref_sd["state"])
    for i, entry in sd["state"].items():
        assert set(entry) == set(ref_sd["state"][i])
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(value, ref_sd["state"][i][key].numpy(), rtol=2e-6, atol=1e-7)
            else:
                assert value == float(ref_sd["state"][i][key])
    # split into JSON (scalars, groups) and arrays, as a checkpoint does, then resume in a new optimizer
    arrays = {f"{i}.{k}": v for i, e in sd["state"].items() for k, v in e.items() if isinstance(v, np.ndarray)}
    meta = json.loads(json.dumps({
        "param_groups": sd["param_groups"],
        "scalars": {f"{i}.{k}": v for i, e in sd["state"].items() for k, v in e.items() if not isinstance(v, np.ndarray)},
    }))  # fmt: skip
    state = {}
    for key, value in {**arrays, **meta["scalars"]}.items():
        i, k = key.split(".", 1)
        state.setdefault(int(i), {})[k] = value
    fresh = make(ours)
    fresh.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    for step in range(10, 15):
        fresh.zero_grad()
        ref_opt.zero_grad()
        for i, (p, r) in enumerate(zip(ours, ref)):
            g = _grad(step, r.detach().numpy(), i)
            p.grad, r.grad = mt.tensor(g.copy()), torch.from_numpy(g.copy())
        fresh.step()
        ref_opt.step()
    for p, r in zip(ours, ref):
        np.testing.assert_allclose(p.numpy(), r.detach().numpy(), rtol=2e-6, atol=2e-6)


def test_load_state_dict_checks_groups():
    p = [nn.Parameter(mt.ones(2)), nn.Parameter(mt.ones(3))]
    opt = optim.SGD(p, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameter group 0 has 1 parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]})
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(
            {"state": {0: {"momentum_buffer": np.zeros(5, np.float32)}}, "param_groups": opt.state_dict()["param_groups"]}
        )


def test_zero_grad_and_argument_errors():
    p = nn.Parameter(mt.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = mt.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and float(p.grad.sum()) == 0
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing happens
    assert float(p.sum()) == 3
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)


def test_training_a_model_end_to_end_with_model_parameters():
    """net.parameters() feeds the optimizer; the loss goes down on a tiny problem."""
    mt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = mt.randn(32, 4)
    y = mt.tensor((np.arange(32) % 3).astype(np.int64))
    opt = optim.Adam(net.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.item())
    assert float(loss.item()) < 0.7 * first
    assert all(p.dtype == np.float32 and p.grad_fn is None for p in net.parameters())


# ---------------------------------------------------------------- bugs the tests above cannot see
def _autograd_run(make_ours, make_ref, steps, *, zero_set_to_none=None, accumulate=1):
    """Train one weight vector on a fixed quadratic through autograd (our backward fills ``.grad``)
    and compare with PyTorch after every step. ``zero_set_to_none``: None = never zero the
    gradients (they accumulate over the run), else ``zero_grad(set_to_none=...)`` before each step's
    ``accumulate`` backward passes."""
    gen = np.random.default_rng(7)
    w0 = gen.standard_normal(6)
    target = gen.standard_normal(6)
    ours = nn.Parameter(mt.tensor(w0.copy()))
    ref = torch.nn.Parameter(torch.tensor(w0.copy()))
    opt, ref_opt = make_ours([ours]), make_ref([ref])
    for step in range(steps):
        if zero_set_to_none is not None:
            opt.zero_grad(set_to_none=zero_set_to_none)
            ref_opt.zero_grad(set_to_none=zero_set_to_none)
        for k in range(accumulate):
            scale = 1.0 + 0.25 * k
            (((ours - mt.tensor(target)) ** 2).sum() * scale).backward()
            (((ref - torch.tensor(target)) ** 2).sum() * scale).backward()
        opt.step()
        ref_opt.step()
        np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"after step {step + 1}")
    return opt, ours


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("zero", [False, True, None], ids=["zero_grad-set_to_none=False", "zero_grad", "accumulate"])
def test_sgd_momentum_buffer_is_its_own_array_as_torch(zero, nesterov):
    """The momentum buffer must not share memory with the gradient: ``zero_grad(set_to_none=False)``
    zeroes the gradient in place and backward adds into it in place; a buffer aliasing it would change too."""
    kw = dict(lr=0.01, momentum=0.9, nesterov=nesterov)
    opt, p = _autograd_run(lambda ps: optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw), steps=6,
                           zero_set_to_none=zero, accumulate=2)
    buf = opt.state[p]["momentum_buffer"]
    assert not np.shares_memory(buf, p.grad.array)


@pytest.mark.parametrize("scale", [1e-9, 1e-6])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_eps_is_added_after_the_bias_correction_as_torch(scale, amsgrad):
    """With gradients small beside eps, the denominator is eps-dominated, so whether eps is added to
    sqrt(v) before or after dividing by sqrt(1 - beta2^t) changes the step by a large factor."""
    gen = np.random.default_rng(3)
    w0 = gen.standard_normal(5)
    grads = [scale * gen.standard_normal(5) for _ in range(4)]
    ours = nn.Parameter(mt.tensor(w0.copy()))
    ref = torch.nn.Parameter(torch.tensor(w0.copy()))
    opt = optim.Adam([ours], lr=0.1, amsgrad=amsgrad)
    ref_opt = torch.optim.Adam([ref], lr=0.1, amsgrad=amsgrad, foreach=False)
    for g in grads:
        ours.grad = mt.tensor(g.copy())
        ref.grad = torch.tensor(g.copy())
        opt.step()
        ref_opt.step()
        moved, ref_moved = ours.numpy() - w0, ref.detach().numpy() - w0
        np.testing.assert_allclose(moved, ref_moved, rtol=1e-9, atol=0)


# ---------------------------------------------------------------- found by mutation testing (mutmut)
def test_state_dict_numbers_parameters_across_groups_as_torch_and_is_a_snapshot():
    shapes = [(2,), (3,), (4,)]
    ours = [nn.Parameter(mt.tensor(np.ones(s, np.float32))) for s in shapes]
    ref = [torch.nn.Parameter(torch.ones(s)) for s in shapes]
    opt = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.5}], lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD([{"params": ref[:1]}, {"params": ref[1:], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p, r in zip(ours, ref):
        p.grad, r.grad = mt.ones(*p.shape), torch.ones_like(r)
    opt.step()
    ref_opt.step()
    sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in ref_sd["param_groups"]] == [[0], [1, 2]]
    for g, rg in zip(sd["param_groups"], ref_sd["param_groups"]):
        for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"):
            assert g[key] == rg[key], key
    assert sorted(sd["state"]) == sorted(ref_sd["state"]) == [0, 1, 2]
    for i in range(3):
        np.testing.assert_allclose(sd["state"][i]["momentum_buffer"], ref_sd["state"][i]["momentum_buffer"].numpy())
    # a snapshot: later steps change neither the arrays nor the groups of a state_dict taken before
    saved = sd["state"][1]["momentum_buffer"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][1]["momentum_buffer"], saved)
    # loading copies as well: stepping the loaded optimizer leaves the dict it was loaded from alone
    sd = opt.state_dict()
    before = sd["state"][1]["momentum_buffer"].copy()
    again = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.5}], lr=0.1, momentum=0.9)
    again.load_state_dict(sd)
    again.step()
    np.testing.assert_array_equal(sd["state"][1]["momentum_buffer"], before)
    assert not np.shares_memory(again.state[ours[1]]["momentum_buffer"], sd["state"][1]["momentum_buffer"])


@pytest.mark.parametrize("kw", [dict(lr=0.0), dict(eps=0.0), dict(betas=(0.0, 0.0)), dict(betas=(0.0, 0.999))])
def test_adam_accepts_the_boundary_values_torch_accepts(kw):
    torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], **kw)
    optim.Adam([nn.Parameter(mt.ones(2))], **kw)


@pytest.mark.parametrize("kw", [dict(lr=-1e-3), dict(eps=-1e-8), dict(betas=(1.0, 0.9)), dict(betas=(0.9, 1.0)),
                                dict(betas=(-0.1, 0.9)), dict(weight_decay=-1.0)])
def test_adam_refuses_what_torch_refuses(kw):
    with pytest.raises(ValueError):
        torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], **kw)
    with pytest.raises(ValueError):
        optim.Adam([nn.Parameter(mt.ones(2))], **kw)


@pytest.mark.parametrize("ours,theirs", [(optim.SGD, torch.optim.SGD), (optim.Adam, torch.optim.Adam)])
def test_default_settings_and_a_zero_learning_rate_as_torch(ours, theirs):
    opt = ours([nn.Parameter(mt.ones(2))])
    ref = theirs([torch.nn.Parameter(torch.ones(2))])
    for key, value in opt.defaults.items():
        assert ref.defaults[key] == value, key
    ours([nn.Parameter(mt.ones(2))], lr=0.0)
    theirs([torch.nn.Parameter(torch.ones(2))], lr=0.0)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_in_blocks_gives_the_one_line_update(monkeypatch, momentum):
    """optim.sgd._add_scaled updates large contiguous arrays in blocks (here of 7 values, with a remainder):
    the same bits as ``p -= lr·g`` and ``buf = μ·buf + (1 − τ)·g`` on the whole array."""
    from minitorch_cnn.optim import sgd as optim_module

    monkeypatch.setattr(optim_module, "_BLOCK", 7)
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((5, 6)).astype(np.float32)
    grads = [rng.standard_normal((5, 6)).astype(np.float32) for _ in range(3)]
    w = mt.tensor(p0.copy(), requires_grad=True)
    opt = mt.optim.SGD([w], lr=0.1, momentum=momentum, dampening=0.25 if momentum else 0.0)
    expected, buf = p0.copy(), None
    for g in grads:
        w.grad = mt.tensor(g.copy())
        opt.step()
        if momentum:
            buf = g.copy() if buf is None else buf * np.float32(momentum) + np.float32(0.75) * g
            expected -= np.float32(0.1) * buf
        else:
            expected -= np.float32(0.1) * g
    np.testing.assert_array_equal(w.numpy(), expected)


def test_add_scaled_on_a_strided_array_updates_it_in_place():
    from minitorch_cnn.optim.sgd import _add_scaled

    base = np.zeros((4, 2**18))
    out = base[:, 1:]  # not contiguous, and no flat view of it exists: the whole-array line, in place
    _add_scaled(out, 2.0, np.ones(out.shape))
    assert (base[:, 1:] == 2.0).all() and (base[:, 0] == 0.0).all()
