"""``optim.lr_scheduler`` against ``torch.optim.lr_scheduler``: the learning rates of every step, state and resume.

Each test drives ours and PyTorch's the same way (``optimizer.step()`` then ``scheduler.step()``)
and compares the rates exactly: both compute them with the same Python float formulas.
"""

import warnings

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn, optim
from minitorch_cnn.optim import lr_scheduler

torch = pytest.importorskip("torch")
ref_scheduler = torch.optim.lr_scheduler

LRS = (0.5, 0.03)  # two parameter groups, each its own rate


def _pair(opt_name="SGD", **opt_kw):
    ours = [nn.Parameter(mt.ones(2)), nn.Parameter(mt.ones(3))]
    ref = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    opt = getattr(optim, opt_name)([{"params": [ours[0]], "lr": LRS[0]}, {"params": [ours[1]], "lr": LRS[1]}], **opt_kw)
    ref_opt = getattr(torch.optim, opt_name)([{"params": [ref[0]], "lr": LRS[0]}, {"params": [ref[1]], "lr": LRS[1]}],
                                             **opt_kw)
    return opt, ref_opt


class Halve:
    """A callable object (not a function): LambdaLR's state_dict keeps its attributes."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor ** (epoch // 4)


CASES = [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[15, 30], gamma=0.5)),  # the book's
    ("MultiStepLR", dict(milestones=[30, 5, 5, 12])),  # unsorted, one listed twice
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),  # past T_max: back up again, as PyTorch
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1 / (1 + epoch))),
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.9**e, lambda e: 1.0 + e])),  # one per group
]
IDS = [f"{name}-{sorted(kw)}-{i}" for i, (name, kw) in enumerate(CASES)]


def _make(lib, opt, name, kw, **extra):
    return getattr(lib, name)(opt, **kw, **extra)


def _step_both(pairs, steps):
    for _ in range(steps):
        for opt, sched in pairs:
            opt.step()
            sched.step()


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_the_rates_of_every_step_are_torchs(name, kw):
    opt, ref_opt = _pair()
    sched, ref = _make(lr_scheduler, opt, name, kw), _make(ref_scheduler, ref_opt, name, kw)
    assert sched.last_epoch == ref.last_epoch == 0
    assert sched.base_lrs == ref.base_lrs == list(LRS)
    for step in range(60):
        assert sched.get_last_lr() == ref.get_last_lr(), f"step {step}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert sched.last_epoch == ref.last_epoch
        _step_both([(opt, sched), (ref_opt, ref)], 1)
    assert [g["initial_lr"] for g in opt.param_groups] == [g["initial_lr"] for g in ref_opt.param_groups] == list(LRS)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_is_torchs_and_resumes_through_a_file(name, kw, tmp_path):
    opt, ref_opt = _pair()
    sched, ref = _make(lr_scheduler, opt, name, kw), _make(ref_scheduler, ref_opt, name, kw)
    _step_both([(opt, sched), (ref_opt, ref)], 13)
    state, ref_state = sched.state_dict(), ref.state_dict()
    assert list(state) == list(ref_state)
    assert state == ref_state
    mt.save(state, tmp_path / "sched")
    mt.save(opt.state_dict(), tmp_path / "opt")
    # resume: a new optimizer and scheduler, loaded from the files, go on as PyTorch's does
    again, _ = _pair()
    again.load_state_dict(mt.load(tmp_path / "opt"))
    resumed = _make(lr_scheduler, again, name, kw)
    resumed.load_state_dict(mt.load(tmp_path / "sched"))
    assert resumed.state_dict() == ref_state
    for step in range(30):
        _step_both([(again, resumed), (ref_opt, ref)], 1)
        assert resumed.get_last_lr() == ref.get_last_lr(), f"step {step} after resuming"


@pytest.mark.parametrize("name,kw", CASES[:8], ids=IDS[:8])
def test_last_epoch_resumes_as_torch(name, kw):
    opt, ref_opt = _pair()
    for group, ref_group in zip(opt.param_groups, ref_opt.param_groups):
        group["initial_lr"] = ref_group["initial_lr"] = group["lr"]
    sched = _make(lr_scheduler, opt, name, kw, last_epoch=9)
    ref = _make(ref_scheduler, ref_opt, name, kw, last_epoch=9)
    for step in range(25):
        assert sched.last_epoch == ref.last_epoch and sched.get_last_lr() == ref.get_last_lr(), f"step {step}"
        _step_both([(opt, sched), (ref_opt, ref)], 1)


def test_last_epoch_without_initial_lr_is_refused_as_torch():
    opt, ref_opt = _pair()
    with pytest.raises(KeyError):
        ref_scheduler.StepLR(ref_opt, 3, last_epoch=4)
    with pytest.raises(KeyError, match="StepLR: param 'initial_lr' is not specified in param_groups\\[0\\]"):
        lr_scheduler.StepLR(opt, 3, last_epoch=4)


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] != "LambdaLR"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(name, kw):
    opt, ref_opt = _pair()
    sched, ref = _make(lr_scheduler, opt, name, kw), _make(ref_scheduler, ref_opt, name, kw)
    for epoch in [3, 4, 17, 16, 40, 2]:
        with pytest.warns(UserWarning, match="deprecated"):
            sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.step(epoch)
        np.testing.assert_allclose(sched.get_last_lr(), ref.get_last_lr(), rtol=1e-15)


def test_two_schedulers_on_one_optimizer_compose_as_torch():
    opt, ref_opt = _pair()
    ours = [lr_scheduler.ExponentialLR(opt, gamma=0.9), lr_scheduler.MultiStepLR(opt, milestones=[3, 8], gamma=0.1)]
    theirs = [ref_scheduler.ExponentialLR(ref_opt, gamma=0.9), ref_scheduler.MultiStepLR(ref_opt, [3, 8], 0.1)]
    for step in range(15):
        opt.step()
        ref_opt.step()
        for a, b in zip(ours, theirs):
            a.step()
            b.step()
        assert ours[1].get_last_lr() == theirs[1].get_last_lr(), f"step {step}"


def test_lambda_lr_keeps_the_state_of_callable_objects_not_functions():
    opt, ref_opt = _pair()
    ours, theirs = Halve(), Halve()
    sched = lr_scheduler.LambdaLR(opt, [ours, lambda e: 1.0])
    ref = ref_scheduler.LambdaLR(ref_opt, [theirs, lambda e: 1.0])
    assert sched.state_dict()["lr_lambdas"] == ref.state_dict()["lr_lambdas"] == [{"factor": 0.5}, None]
    saved = sched.state_dict()
    ours.factor = 0.1
    sched.load_state_dict(saved)
    assert ours.factor == 0.5 and "lr_lambdas" in saved
    with pytest.raises(ValueError, match="LambdaLR: expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_the_books_check_and_errors():
    """d2l tells its own schedulers from the library's with ``scheduler.__module__ == lr_scheduler.__name__``."""
    opt, _ = _pair()
    sched = lr_scheduler.MultiStepLR(opt, milestones=[15, 30], gamma=0.5)
    assert sched.__module__ == lr_scheduler.__name__ == "minitorch_cnn.optim.lr_scheduler"
    assert mt.optim.lr_scheduler is lr_scheduler and isinstance(sched, lr_scheduler.LRScheduler)
    assert lr_scheduler._LRScheduler is lr_scheduler.LRScheduler
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        lr_scheduler.StepLR([], 3)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_a_scheduler_drives_adam_training_as_torch():
    """Rates set by the scheduler are the ones the optimizer uses on its next step."""
    gen = np.random.default_rng(2)
    w0 = gen.standard_normal(4)
    ours, ref = nn.Parameter(mt.tensor(w0.copy())), torch.nn.Parameter(torch.tensor(w0.copy()))
    opt, ref_opt = optim.Adam([ours], lr=0.1), torch.optim.Adam([ref], lr=0.1)
    sched, ref_sched = lr_scheduler.CosineAnnealingLR(opt, 5), ref_scheduler.CosineAnnealingLR(ref_opt, 5)
    for _ in range(12):
        (ours**2).sum().backward()
        (ref**2).sum().backward()
        opt.step()
        ref_opt.step()
        sched.step()
        ref_sched.step()
        np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-12)
