"""Data loaders refuse wrong shapes, NaNs and labels out of range, naming the offending index."""

from __future__ import annotations

import numpy as np
import pytest

from workbench_plugins.robustness import data
from workbench_plugins.robustness.errors import DataFileError


def test_digits_demo_is_scaled_and_split():
    train, test = data.digits(seed=0)
    assert train.x.shape[1:] == (1, 8, 8) and test.x.shape[1:] == (1, 8, 8)
    assert len(train) + len(test) == 1797
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0 and train.x.max() > 0.9
    assert set(np.unique(test.y)) == set(range(10))
    again, _ = data.digits(seed=0)
    assert np.array_equal(again.y, train.y)  # fixed seed, same split


def test_npz_round_trip(tmp_path):
    x = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    y = np.arange(20) % 10
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = data.load(str(tmp_path / "d.npz"), num_classes=10, input_range=(0, 1))
    assert ds.kind == "image" and ds.x.shape == (20, 1, 8, 8) and ds.y.dtype == np.int64
    assert np.array_equal(ds.y, y)


def test_npz_nan_names_the_sample(tmp_path):
    x = np.zeros((10, 4), dtype=np.float32)
    x[7, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.zeros(10, dtype=int))
    with pytest.raises(DataFileError, match=r"nan\.npz: sample 7 of x contains NaN"):
        data.load(str(tmp_path / "nan.npz"))


def test_labels_out_of_range_name_the_index(tmp_path):
    y = np.array([0, 1, 2, 10, 4])
    np.savez(tmp_path / "lab.npz", x=np.zeros((5, 3)), y=y)
    with pytest.raises(DataFileError, match=r"lab\.npz: label 3 is 10, outside the classes 0\.\.9"):
        data.load(str(tmp_path / "lab.npz"), num_classes=10)
    np.savez(tmp_path / "neg.npz", x=np.zeros((5, 3)), y=np.array([0, 0, -1, 0, 0]))
    with pytest.raises(DataFileError, match="label 2 is -1"):
        data.load(str(tmp_path / "neg.npz"))


@pytest.mark.parametrize("x, y, message", [
    (np.zeros(5), np.zeros(5), r"x has shape \(5,\)"),
    (np.zeros((5, 2, 2, 2, 2)), np.zeros(5), r"x has shape \(5, 2, 2, 2, 2\)"),
    (np.zeros((5, 3)), np.zeros(4), "x has 5 samples but y has 4 labels"),
    (np.zeros((5, 3)), np.zeros((5, 2)), r"y has shape \(5, 2\)"),
    (np.zeros((5, 3)), np.array([0, 1, 0.5, 1, 0]), "label 2 is 0.5, not a whole number"),
])
def test_wrong_shapes_are_refused(tmp_path, x, y, message):
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    with pytest.raises(DataFileError, match=message):
        data.load(str(tmp_path / "bad.npz"))


def test_values_outside_input_range_name_the_sample(tmp_path):
    x = np.zeros((6, 4), dtype=np.float32)
    x[4, 1] = 255.0
    np.savez(tmp_path / "raw.npz", x=x, y=np.zeros(6, dtype=int))
    with pytest.raises(DataFileError, match=r"sample 4 has values in \[0, 255\], outside the input range"):
        data.load(str(tmp_path / "raw.npz"), input_range=(0.0, 1.0))


def test_pickled_arrays_are_never_loaded(tmp_path):
    obj = np.empty(2, dtype=object)
    obj[:] = [{"a": 1}, {"b": 2}]
    np.savez(tmp_path / "obj.npz", x=obj, y=np.zeros(2, dtype=int))
    with pytest.raises(DataFileError, match="pickled Python objects"):
        data.load(str(tmp_path / "obj.npz"))


def test_npz_missing_array(tmp_path):
    np.savez(tmp_path / "m.npz", features=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(DataFileError, match="no array named x"):
        data.load(str(tmp_path / "m.npz"))


def test_npy_with_labels_beside_it(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((4, 3, 5, 5), dtype=np.float32) * 0.5)
    with pytest.raises(DataFileError, match="d_labels.npy"):
        data.load(str(tmp_path / "d.npy"))
    np.save(tmp_path / "d_labels.npy", np.array([0, 1, 1, 0]))
    ds = data.load(str(tmp_path / "d.npy"))
    assert ds.x.shape == (4, 3, 5, 5) and list(ds.y) == [0, 1, 1, 0]


def test_garbage_numpy_file(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"this is not numpy")
    with pytest.raises(DataFileError, match=r"g\.npz"):
        data.load(str(tmp_path / "g.npz"))


def test_image_folder(tmp_path):
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((6, 6), 40 * i, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    ds = data.load(str(tmp_path))
    assert ds.class_names == ["cat", "dog"] and ds.x.shape == (6, 1, 6, 6)
    assert list(ds.y) == [0, 0, 0, 1, 1, 1] and ds.x.max() <= 1.0
    Image.fromarray(np.zeros((7, 6), dtype=np.uint8)).save(tmp_path / "dog" / "odd.png")
    with pytest.raises(DataFileError, match=r"odd\.png: size \(7, 6\) differs"):
        data.load(str(tmp_path))


def test_csv_tabular(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("age,income,label\n30,1.5,yes\n40,2.5,no\n50,3.5,yes\n")
    ds = data.load(str(p), target="label")
    assert ds.kind == "tabular" and ds.x.shape == (3, 2)
    assert ds.class_names == ["no", "yes"] and list(ds.y) == [1, 0, 1]
    assert ds.feature_names == ["age", "income"]


@pytest.mark.parametrize("body, message", [
    ("a,b,t\n1,2,0\n3,,1\n", r"line 3, column 'b': '' is not a number"),
    ("a,b,t\n1,2,0\n3,4,1\n5,nan,0\n", r"line 4, column 'b': value is NaN"),
    ("a,b,t\n1,2,0\n3,4\n", "line 3 has 2 fields, the header has 3"),
    ("a,b,t\n1,2,0\n3,4,7\n", r"line 3 \(sample 1\): label 7 is outside the classes 0\.\.1"),
])
def test_csv_refusals_name_the_line(tmp_path, body, message):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(DataFileError, match=message):
        data.load(str(p), target="t", num_classes=2)


def test_csv_needs_a_known_target(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="no column named 'label'"):
        data.load(str(p), target="label")
    with pytest.raises(DataFileError, match="needs the target column"):
        data.load(str(p))
