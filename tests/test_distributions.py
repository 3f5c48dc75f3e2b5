"""``mt.distributions`` against ``torch.distributions``: the book's ``multinomial.Multinomial(n, p).sample()``,
and for Multinomial, Categorical and Normal the shapes, moments, log-probabilities (and their gradients),
reprs and errors. Samples come from the engine's generator: same seed, same draws; their averages
are checked against the exact moments within 6 standard errors."""

import math

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import distributions as D
from minitorch_cnn.distributions import multinomial

torch = pytest.importorskip("torch")
TD = torch.distributions


def _text(x):
    return str(x).replace("minitorch_cnn.", "torch.")


def test_the_books_die_rolls():
    mt.manual_seed(0)
    fair = mt.ones(6) / 6
    one = multinomial.Multinomial(1, fair).sample()
    assert one.shape == (6,) and one.dtype == mt.float32 and float(one.sum()) == 1.0
    assert set(one.numpy().tolist()) <= {0.0, 1.0}
    many = multinomial.Multinomial(10, fair).sample((3,))
    assert many.shape == (3, 6) and np.array_equal(many.numpy().sum(1), [10, 10, 10])
    assert np.array_equal(many.numpy(), np.round(many.numpy()))
    mt.manual_seed(0)
    assert np.array_equal(multinomial.Multinomial(1, fair).sample().numpy(), one.numpy())  # seeded


def test_dir_lists_what_torch_lists_for_what_we_have():
    names = {n for n in dir(D) if not n.startswith("_")}
    torch_names = set(dir(TD))
    assert {"Multinomial", "Categorical", "Normal", "Distribution",
            "multinomial", "categorical", "normal", "distribution"} <= names <= torch_names


MULTINOMIAL = [(10, [0.2, 0.3, 0.5], [2.0, 3.0, 5.0]), (4, [[1.0, 1.0, 2.0], [0.5, 0.0, 0.5]], [[0.0, 1.0, 3.0], [2.0, 0.0, 2.0]])]


@pytest.mark.parametrize("n,probs,value", MULTINOMIAL)
def test_multinomial_matches_torch(n, probs, value):
    ours, theirs = D.Multinomial(n, mt.tensor(probs)), TD.Multinomial(n, torch.tensor(probs))
    assert _text(ours) == str(theirs) and ours.total_count == theirs.total_count
    assert _text(ours.batch_shape) == str(theirs.batch_shape) and _text(ours.event_shape) == str(theirs.event_shape)
    for name in ("probs", "logits", "mean", "variance", "stddev"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.log_prob(mt.tensor(value)).numpy(), theirs.log_prob(torch.tensor(value)).numpy(),
                               rtol=1e-6)
    assert ours.sample((5, 2)).shape == tuple(theirs.sample((5, 2)).shape)


def test_multinomial_log_prob_definition_and_gradient():
    p, x = np.array([0.1, 0.6, 0.3]), np.array([1.0, 4.0, 2.0])
    want = math.log(math.factorial(7) / (1 * math.factorial(4) * 2)) + float((x * np.log(p)).sum())  # the pmf
    logits = mt.tensor(np.log(p) + 0.7, requires_grad=True)  # unnormalised: the shift must not matter
    got = D.Multinomial(7, logits=logits).log_prob(mt.tensor(x))
    assert abs(float(got) - want) < 1e-5
    got.backward()
    ref = torch.tensor(np.log(p) + 0.7, dtype=torch.float32, requires_grad=True)
    TD.Multinomial(7, logits=ref).log_prob(torch.tensor(x, dtype=torch.float32)).backward()
    np.testing.assert_allclose(logits.grad.numpy(), ref.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_multinomial_samples_average_to_the_mean():
    mt.manual_seed(1)
    probs = np.array([0.1, 0.2, 0.7])
    draws = D.Multinomial(20, mt.tensor(probs)).sample((4000,)).numpy()
    assert draws.shape == (4000, 3) and (draws.sum(1) == 20).all()
    stderr = np.sqrt(20 * probs * (1 - probs) / 4000)
    assert (np.abs(draws.mean(0) - 20 * probs) < 6 * stderr).all()


def test_categorical_matches_torch():
    probs = [[0.1, 0.9, 0.0], [2.0, 1.0, 1.0]]
    ours, theirs = D.Categorical(mt.tensor(probs)), TD.Categorical(torch.tensor(probs))
    assert _text(ours) == str(theirs)
    for name in ("probs", "logits"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.entropy().numpy(), theirs.entropy().numpy(), rtol=1e-6)
    value = [[1, 0], [2, 2]]
    np.testing.assert_allclose(ours.log_prob(mt.tensor(value)).numpy(),
                               theirs.log_prob(torch.tensor(value)).numpy(), rtol=1e-6)
    assert np.isnan(ours.mean.numpy()).all() and ours.mean.shape == tuple(theirs.mean.shape)
    sample = ours.sample((6,))
    assert sample.dtype == mt.int64 and sample.shape == tuple(theirs.sample((6,)).shape) == (6, 2)
    assert (sample.numpy()[:, 0] != 2).all()  # never the category of probability 0
    by_logits = D.Categorical(logits=mt.tensor([0.0, 1.0]))
    assert _text(by_logits) == str(TD.Categorical(logits=torch.tensor([0.0, 1.0])))


def test_categorical_frequencies_follow_probs():
    mt.manual_seed(2)
    probs = np.array([0.25, 0.05, 0.7])
    draws = D.Categorical(mt.tensor(probs)).sample((6000,)).numpy()
    freq = np.bincount(draws, minlength=3) / 6000
    assert (np.abs(freq - probs) < 6 * np.sqrt(probs * (1 - probs) / 6000)).all()


def test_normal_matches_torch_and_its_gradients():
    loc, scale, x = [0.5, -1.0], [1.0, 2.0], [0.0, 1.5]
    lo, so = mt.tensor(loc, requires_grad=True), mt.tensor(scale, requires_grad=True)
    lt, st = torch.tensor(loc, requires_grad=True), torch.tensor(scale, requires_grad=True)
    ours, theirs = D.Normal(lo, so), TD.Normal(lt, st)
    assert _text(ours) == str(theirs) and _text(D.Normal(0.0, 1.0)) == str(TD.Normal(0.0, 1.0))
    for name in ("mean", "stddev", "variance"):
        np.testing.assert_allclose(getattr(ours, name).detach().numpy(), getattr(theirs, name).detach().numpy())
    np.testing.assert_allclose(ours.entropy().detach().numpy(), theirs.entropy().detach().numpy(), rtol=1e-6)
    lp_o, lp_t = ours.log_prob(mt.tensor(x)), theirs.log_prob(torch.tensor(x))
    np.testing.assert_allclose(lp_o.detach().numpy(), lp_t.detach().numpy(), rtol=1e-6)
    want = [-(xi - m) ** 2 / (2 * s * s) - math.log(s) - 0.5 * math.log(2 * math.pi) for xi, m, s in zip(x, loc, scale)]
    np.testing.assert_allclose(lp_o.detach().numpy(), want, rtol=1e-6)
    lp_o.sum().backward()
    lp_t.sum().backward()
    np.testing.assert_allclose(lo.grad.numpy(), lt.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(so.grad.numpy(), st.grad.numpy(), rtol=1e-6)
    assert ours.sample((3,)).shape == tuple(theirs.sample((3,)).shape) and D.Normal(0.0, 1.0).sample().shape == ()
    assert not ours.sample().requires_grad and ours.rsample().requires_grad


def test_normal_samples_have_its_moments():
    mt.manual_seed(3)
    draws = D.Normal(mt.tensor([2.0, -1.0]), mt.tensor([0.5, 3.0])).sample((8000,)).numpy()
    assert (np.abs(draws.mean(0) - [2.0, -1.0]) < 6 * np.array([0.5, 3.0]) / math.sqrt(8000)).all()


def test_bad_parameters_are_refused_as_torch():
    for make in (lambda m: m.Multinomial(10, m_tensor(m, [0.2, -0.3])), lambda m: m.Multinomial(10),
                 lambda m: m.Normal(0.0, -1.0), lambda m: m.Categorical(m_tensor(m, [0.2, -0.3]))):
        with pytest.raises(ValueError):
            make(TD)
        with pytest.raises(ValueError):
            make(D)
    with pytest.raises(ValueError, match=r"^Multinomial: expected probs to be a vector"):
        D.Multinomial(10, mt.tensor([0.2, -0.3]))
    with pytest.raises(ValueError, match=r"Multinomial.log_prob: expected non-negative counts"):
        D.Multinomial(3, mt.tensor([0.5, 0.5])).log_prob(mt.tensor([3.0, 1.0]))
    with pytest.raises(TypeError, match=r"Normal.sample: expected sample_shape to be a tuple of ints"):
        D.Normal(0.0, 1.0).sample(3)


def m_tensor(module, values):
    return torch.tensor(values) if module is TD else mt.tensor(values)
