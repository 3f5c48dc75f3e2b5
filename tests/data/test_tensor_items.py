"""A dataset item is a Tensor, as torchvision's after ``ToTensor`` (``data.train[0][0].shape`` prints
``Size([1, 32, 32])``), while the loader's batches still come from one index of the arrays; and dtype
names read as PyTorch's ("float" is float32) in the loader and the transforms."""

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn.data import ArrayDataset, Compose, DataLoader, Resize, ToTensor, to_float
from minitorch_cnn.utils import data as udata

torch = pytest.importorskip("torch")


def _images(n=5, h=28, w=28):
    return np.random.default_rng(3).integers(0, 256, (n, h, w), dtype=np.uint8)


@pytest.mark.parametrize("transform", [Compose([Resize(32), ToTensor()]), Compose([ToTensor(), Resize(32)])])
def test_an_item_is_a_tensor_with_torchs_shape_and_values(transform):
    images = _images()
    ds = ArrayDataset(images, np.arange(5), transform=transform)
    x, y = ds[1]
    assert type(x) is mt.Tensor and type(y) is int and y == 1
    assert repr(x.shape) == "minitorch_cnn.Size([1, 32, 32])" and x.dtype == mt.float32
    # torchvision's Resize on a tensor without antialias is interpolate(bilinear, align_corners=False)
    ref = torch.from_numpy(images[1][None, None].astype(np.float32) / 255)
    want = torch.nn.functional.interpolate(ref, size=(32, 32), mode="bilinear", align_corners=False)[0]
    assert repr(x.shape).replace("minitorch_cnn.", "torch.") == repr(want.shape)
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=0, atol=1e-6)


def test_items_without_a_transform_are_tensors_too():
    images = _images()
    x, _ = ArrayDataset(images, np.zeros(5, np.int64))[4]
    assert type(x) is mt.Tensor and x.shape == (1, 28, 28)
    np.testing.assert_array_equal(x.numpy()[0], images[4].astype(np.float32) / np.float32(255))


@pytest.mark.parametrize("transform", [Compose([Resize(32), ToTensor()]), Compose([ToTensor(), Resize(32)]), None])
def test_batches_are_one_array_index_never_the_items(transform, monkeypatch):
    images = _images(7)
    ds = ArrayDataset(images, np.arange(7), transform=transform)
    items = [ds[i][0].numpy() for i in range(7)]

    def no_items(self, index):
        raise AssertionError("the batch path read an item")

    monkeypatch.setattr(ArrayDataset, "__getitem__", no_items)
    for loader in (DataLoader(ds, batch_size=4), udata.DataLoader(ds, batch_size=4)):
        X, y = next(iter(loader))
        assert type(X) is mt.Tensor and X.shape == (4,) + items[0].shape and X.dtype == mt.float32
        np.testing.assert_allclose(X.numpy(), np.stack(items[:4]), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(y.numpy(), np.arange(4))


def test_a_map_style_dataset_of_tensor_items_is_stacked():
    class Items:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return mt.full((1, 2, 2), float(i)), i

    X, y = next(iter(DataLoader(Items(), batch_size=3)))
    np.testing.assert_array_equal(X.numpy(), np.arange(3, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2)))
    np.testing.assert_array_equal(y.numpy(), [0, 1, 2])


@pytest.mark.parametrize("name", ["float", "double", "float32", "float64", "half"])
def test_dtype_names_read_as_torchs(name):
    want = str(getattr(torch, name)).replace("torch.", "")
    ds = ArrayDataset(_images(2), np.arange(2))
    X, _ = next(iter(DataLoader(ds, batch_size=2, dtype=name)))
    assert X.dtype.name == want
    assert to_float(_images(1), name).dtype.name == want
    assert ToTensor(dtype=name)(_images(1)[0]).dtype.name == want


def test_totensor_gives_a_tensor_as_torchvisions():
    image = _images(1)[0]
    out = ToTensor()(image)
    assert type(out) is mt.Tensor and out.shape == (1, 28, 28)
    np.testing.assert_array_equal(out.numpy(), torch.from_numpy(image[None].astype(np.float32)).div(255).numpy())
    assert ToTensor()(out) is not None and ToTensor()(out).shape == (1, 28, 28)  # a tensor passes through
    with pytest.raises(TypeError, match="dtype"):
        DataLoader(ArrayDataset(_images(2), np.arange(2)), dtype="long")
