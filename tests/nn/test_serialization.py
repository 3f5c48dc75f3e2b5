"""``mt.save`` / ``mt.load`` of dicts and of an optimizer's state: the types ``torch.load`` gives back, int
keys kept as ints (no pickle), and an optimizer resumed from a file steps exactly as the one saved."""

from collections import Counter, OrderedDict

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn, optim

torch = pytest.importorskip("torch")


def test_a_dict_loads_as_a_dict_and_a_state_dict_as_an_ordered_dict_as_torch(tmp_path):
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    cases = [({"a": mt.ones(2)}, {"a": torch.ones(2)}), (net.state_dict(), ref.state_dict()),
             ({"nested": OrderedDict(x=mt.ones(1))}, {"nested": OrderedDict(x=torch.ones(1))})]
    for i, (ours, theirs) in enumerate(cases):
        mt.save(ours, tmp_path / f"ours{i}")
        torch.save(theirs, tmp_path / f"theirs{i}")
        loaded, ref_loaded = mt.load(tmp_path / f"ours{i}"), torch.load(tmp_path / f"theirs{i}")
        assert type(loaded) is type(ref_loaded) and list(loaded) == list(ref_loaded)
        for k in loaded:
            assert type(loaded[k]) is (mt.Tensor if isinstance(ref_loaded[k], torch.Tensor) else type(ref_loaded[k]))
    assert type(mt.load(tmp_path / "ours0")) is dict and type(mt.load(tmp_path / "ours1")) is OrderedDict


def test_keys_keep_their_types_and_values_theirs(tmp_path):
    obj = {0: "int", "0": "str", 1.5: "float", True: "bool", None: "none", -3: [1, 2.0, (3, None)],
           "arr": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(0.1), "count": Counter([5, 5, 7])}
    mt.save(obj, tmp_path / "f")
    back = mt.load(tmp_path / "f")
    assert list(back) == list(obj)
    assert [type(k) for k in back] == [type(k) for k in obj]
    assert back[-3] == [1, 2.0, (3, None)] and type(back[-3][1]) is float and type(back[-3][2]) is tuple
    assert back["arr"].dtype == np.int16 and np.array_equal(back["arr"], obj["arr"])
    assert type(back["scalar"]) is np.float32 and back["scalar"] == np.float32(0.1)
    assert type(back["count"]) is Counter and back["count"] == Counter({5: 2, 7: 1})


def test_keys_that_json_cannot_keep_are_refused_in_one_line(tmp_path):
    with pytest.raises(TypeError, match=r"^save: dict keys must be strings, numbers, booleans or None, got tuple "
                                        r"key \(1, 2\)$"):
        mt.save({(1, 2): 3}, tmp_path / "f")


def _train(opt, params, steps, seed):
    gen = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = mt.tensor(gen.standard_normal(p.shape).astype(p.dtype))
        opt.step()


OPTIMIZERS = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05)),
    (optim.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.9))),
]


@pytest.mark.parametrize("ours,theirs,kw", OPTIMIZERS, ids=[f"{o.__name__}-{kw}" for o, _, kw in OPTIMIZERS])
def test_an_optimizer_state_saved_to_a_file_resumes_exactly(ours, theirs, kw, tmp_path):
    def make_params():
        return [nn.Parameter(mt.ones(3, 2)), nn.Parameter(mt.zeros(4, dtype=mt.float64))]

    params = make_params()
    opt = ours([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], **kw)
    _train(opt, params, 3, seed=0)
    mt.save(opt.state_dict(), tmp_path / "opt.state")
    loaded = mt.load(tmp_path / "opt.state")
    # PyTorch's layout, and the same types back: int keys, tuples, NumPy arrays, float steps
    ref_params = [torch.nn.Parameter(torch.ones(3, 2)), torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))]
    ref_opt = theirs([{"params": ref_params[:1]}, {"params": ref_params[1:], "lr": 0.5}], **kw)
    for p in ref_params:
        p.grad = torch.ones_like(p)
    ref_opt.step()
    torch.save(ref_opt.state_dict(), tmp_path / "ref.state")
    ref_loaded = torch.load(tmp_path / "ref.state")
    assert type(loaded) is type(ref_loaded) is dict and list(loaded) == list(ref_loaded) == ["state", "param_groups"]
    assert loaded["param_groups"] == opt.state_dict()["param_groups"] == ref_loaded["param_groups"]
    assert list(loaded["state"]) == list(ref_loaded["state"])
    for i, entry in loaded["state"].items():
        assert list(entry) == list(ref_loaded["state"][i])
        for k, v in entry.items():
            saved = opt.state_dict()["state"][i][k]
            assert type(v) is type(saved) and np.array_equal(v, saved) and np.asarray(v).dtype == np.asarray(saved).dtype
    # the optimizer loaded from the file and the one saved take the same next steps, to the bit
    twins = make_params()
    for a, b in zip(twins, params):
        a.array[...] = b.array
    resumed = ours([{"params": twins[:1]}, {"params": twins[1:], "lr": 0.1}], **kw)
    resumed.load_state_dict(mt.load(tmp_path / "opt.state"))
    assert resumed.param_groups[1]["lr"] == 0.5
    _train(opt, params, 4, seed=1)
    _train(resumed, twins, 4, seed=1)
    for a, b in zip(twins, params):
        assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())


def test_sizes_and_dtypes_come_back_as_themselves_as_torch(tmp_path):
    ours = {"shape": mt.zeros(2, 3).shape, "empty": mt.Size([]), "dtypes": [mt.float32, mt.int64, mt.bool, mt.float64],
            "nested": (mt.Size([4]), {"d": mt.float16})}
    theirs = {"shape": torch.zeros(2, 3).shape, "empty": torch.Size([]),
              "dtypes": [torch.float32, torch.int64, torch.bool, torch.float64],
              "nested": (torch.Size([4]), {"d": torch.float16})}
    mt.save(ours, tmp_path / "ours")
    torch.save(theirs, tmp_path / "theirs")
    back, ref = mt.load(tmp_path / "ours"), torch.load(tmp_path / "theirs")
    assert type(back["shape"]) is mt.Size and type(ref["shape"]) is torch.Size
    assert back["shape"] == (2, 3) == tuple(ref["shape"]) and repr(back["shape"]) == "minitorch_cnn.Size([2, 3])"
    assert type(back["empty"]) is mt.Size and back["empty"] == () == tuple(ref["empty"])
    assert back["dtypes"] == ours["dtypes"] and all(a is b for a, b in zip(back["dtypes"], ours["dtypes"]))
    assert [str(d).replace("minitorch_cnn.", "torch.") for d in back["dtypes"]] == [str(d) for d in ref["dtypes"]]
    assert type(back["nested"]) is tuple and type(back["nested"][0]) is mt.Size and back["nested"][1]["d"] is mt.float16
    with open(tmp_path / "ours", "rb") as f:  # the metadata is JSON: no pickle anywhere
        assert b"pickle" not in f.read()
