"""Data for robustness runs: the built-in digits demo, NumPy files, image folders, CSV.

Every loader returns a :class:`Dataset` whose ``x`` is float32 in input space
(the space the attacks perturb) and whose ``y`` is int64. Bad files are
refused with the file name and the first offending index (or CSV line).
NumPy files are always read with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

from .errors import DataFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Dataset:
    x: object                      # numpy float32, (N, C, H, W) for images, (N, F) for tabular
    y: object                      # numpy int64, (N,)
    kind: str                      # "image" or "tabular"
    source: str
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else int(self.y.max()) + 1 if len(self) else 0

    def subset(self, idx) -> "Dataset":
        return Dataset(self.x[idx], self.y[idx], self.kind, self.source, self.class_names, self.feature_names)


def _np():
    import numpy as np

    return np


def digits(seed: int = 0, test_fraction: float = 0.3) -> tuple[Dataset, Dataset]:
    """scikit-learn's 8x8 digits scaled to [0, 1], split (train, test) by a seeded permutation."""
    np = _np()
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    names = [str(i) for i in range(10)]
    src = "sklearn digits"
    return (Dataset(x[train], y[train], "image", src + " (train)", names),
            Dataset(x[test], y[test], "image", src + " (test)", names))


def validate(x, y, source: str, *, num_classes: int | None = None,
             input_range: tuple[float, float] | None = None) -> None:
    """Refuse shapes, NaNs, labels and values that an attack run cannot use, naming the index."""
    np = _np()
    if x.ndim not in (2, 3, 4):
        raise DataFileError(f"{source}: x has shape {tuple(x.shape)}; expected (N, features), "
                            "(N, H, W), (N, C, H, W) or (N, H, W, C)")
    if y.ndim != 1:
        raise DataFileError(f"{source}: y has shape {tuple(y.shape)}; expected one label per sample (N,)")
    if x.shape[0] != y.shape[0]:
        raise DataFileError(f"{source}: x has {x.shape[0]} samples but y has {y.shape[0]} labels")
    if x.shape[0] == 0:
        raise DataFileError(f"{source}: no samples")
    flat = x.reshape(x.shape[0], -1)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(f"{source}: sample {i} of x contains NaN or infinity")
    if not np.isfinite(y.astype(np.float64)).all():
        i = int(np.argmax(~np.isfinite(y.astype(np.float64))))
        raise DataFileError(f"{source}: label {i} is NaN or infinity")
    if (y != np.round(y)).any():
        i = int(np.argmax(y != np.round(y)))
        raise DataFileError(f"{source}: label {i} is {float(y[i]):g}, not a whole number")
    low = y < 0
    high = (y >= num_classes) if num_classes is not None else np.zeros_like(low)
    if low.any() or high.any():
        i = int(np.argmax(low | high))
        limit = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        raise DataFileError(f"{source}: label {i} is {int(y[i])}, outside the classes {limit}")
    if input_range is not None:
        lo, hi = input_range
        tol = 1e-6 * max(1.0, abs(hi - lo))
        out = ((flat < lo - tol) | (flat > hi + tol)).any(axis=1)
        if out.any():
            i = int(np.argmax(out))
            raise DataFileError(f"{source}: sample {i} has values in [{flat[i].min():g}, {flat[i].max():g}], "
                                f"outside the input range [{lo:g}, {hi:g}] (set --input-range)")


def _as_images_or_table(x, source: str):
    """(x as float32 (N,C,H,W) or (N,F), kind)."""
    np = _np()
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataFileError(f"{source}: x has dtype {x.dtype}; expected numbers")
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        return x, "tabular"
    if x.ndim == 3:
        return x[:, None, :, :], "image"
    if x.ndim == 4:
        if x.shape[1] not in (1, 3, 4) and x.shape[3] in (1, 3, 4):
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW
        return x, "image"
    raise DataFileError(f"{source}: x has shape {tuple(x.shape)}; expected (N, features), "
                        "(N, H, W), (N, C, H, W) or (N, H, W, C)")


def _labels(y, source: str):
    np = _np()
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise DataFileError(f"{source}: y has dtype {y.dtype}; expected integer class labels")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return y


def _finish(x, y, source: str, num_classes, input_range, **names) -> Dataset:
    np = _np()
    if x.ndim not in (2, 3, 4):
        validate(x, y, source)  # raises with the shape message
    y = _labels(y, source)
    validate(x, y, source, num_classes=num_classes, input_range=input_range)
    x, kind = _as_images_or_table(x, source)
    return Dataset(x, y.astype(np.int64), kind, source, **names)


def _np_load(path: str):
    np = _np()
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataFileError(f"{path}: holds pickled Python objects, which are never loaded; "
                                "save plain numeric arrays") from None
        raise DataFileError(f"{path}: not a valid NumPy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: cannot read as NumPy data: {exc}") from None


def load_npz(path: str, *, num_classes=None, input_range=None) -> Dataset:
    """An .npz with arrays ``x`` and ``y`` (``X``/``Y`` also accepted)."""
    archive = _np_load(path)
    if not hasattr(archive, "files"):
        raise DataFileError(f"{path}: expected an .npz archive with arrays x and y")
    with archive:
        keys = {k.lower(): k for k in archive.files}
        missing = [k for k in ("x", "y") if k not in keys]
        if missing:
            raise DataFileError(f"{path}: no array named {' or '.join(missing)} (has: {', '.join(archive.files)})")
        try:
            x, y = archive[keys["x"]], archive[keys["y"]]
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise DataFileError(f"{path}: holds pickled Python objects, which are never loaded; "
                                    "save plain numeric arrays") from None
            raise DataFileError(f"{path}: {exc}") from None
    return _finish(x, y, path, num_classes, input_range)


def load_npy(path: str, *, num_classes=None, input_range=None) -> Dataset:
    """``NAME.npy`` holds x; the labels are in ``NAME_labels.npy`` beside it."""
    x = _np_load(path)
    stem = path[:-4] if path.lower().endswith(".npy") else path
    labels = stem + "_labels.npy"
    if not os.path.exists(labels):
        raise DataFileError(f"{path}: labels not found; put them in {os.path.basename(labels)} beside it, "
                            "or save x and y together in an .npz")
    y = _np_load(labels)
    return _finish(x, y, path, num_classes, input_range)


def load_image_folder(path: str, *, num_classes=None, input_range=(0.0, 1.0)) -> Dataset:
    """One subfolder per class (sorted names are the classes); pixels scaled to [0, 1]."""
    np = _np()
    from PIL import Image, UnidentifiedImageError

    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    if not classes:
        raise DataFileError(f"{path}: no class subfolders (expected one folder of images per class)")
    xs, ys, shape, mode = [], [], None, None
    for label, name in enumerate(classes):
        folder = os.path.join(path, name)
        for fname in sorted(os.listdir(folder)):
            if not fname.lower().endswith(IMAGE_SUFFIXES):
                continue
            fpath = os.path.join(folder, fname)
            try:
                with Image.open(fpath) as img:
                    if mode is None:
                        mode = "L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
                    arr = np.asarray(img.convert(mode), dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as exc:
                raise DataFileError(f"{fpath}: not a readable image: {exc}") from None
            if shape is None:
                shape = arr.shape
            elif arr.shape != shape:
                raise DataFileError(f"{fpath}: size {arr.shape} differs from the first image's {shape}; "
                                    "all images must have the same size")
            xs.append(arr if arr.ndim == 3 else arr[:, :, None])
            ys.append(label)
    if not xs:
        raise DataFileError(f"{path}: no images found in the class subfolders")
    x = np.stack(xs).transpose(0, 3, 1, 2)
    return _finish(np.ascontiguousarray(x), np.asarray(ys), path, num_classes, input_range, class_names=classes)


def load_csv(path: str, target: str, *, num_classes=None, input_range=None) -> Dataset:
    """Tabular data: every column but ``target`` is a numeric feature; errors name the CSV line."""
    np = _np()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise DataFileError(f"{path}: empty file") from None
        if target not in header:
            raise DataFileError(f"{path}: no column named {target!r} (columns: {', '.join(header)})")
        t = header.index(target)
        features = [h for i, h in enumerate(header) if i != t]
        rows, labels = [], []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataFileError(f"{path}: line {line_no} has {len(row)} fields, the header has {len(header)}")
            values = []
            for i, cell in enumerate(row):
                if i == t:
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    raise DataFileError(f"{path}: line {line_no}, column {header[i]!r}: {cell!r} is not a number") from None
                if not np.isfinite(v):
                    raise DataFileError(f"{path}: line {line_no}, column {header[i]!r}: value is NaN or infinity")
                values.append(v)
            rows.append(values)
            labels.append((row[t].strip(), line_no))
    if not rows:
        raise DataFileError(f"{path}: no data rows")
    raw = [v for v, _ in labels]
    try:
        as_int = [int(v) for v in raw]
        class_names: list[str] = []
    except ValueError:
        class_names = sorted(set(raw))
        as_int = [class_names.index(v) for v in raw]
    y = np.asarray(as_int, dtype=np.int64)
    if num_classes is not None:
        bad = (y < 0) | (y >= num_classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(f"{path}: line {labels[i][1]} (sample {i}): label {raw[i]} is outside "
                                f"the classes 0..{num_classes - 1}")
    x = np.asarray(rows, dtype=np.float32)
    return _finish(x, y, path, num_classes, input_range, class_names=class_names, feature_names=features)


def load(path: str, *, target: str | None = None, num_classes=None, input_range=None) -> Dataset:
    """Pick the loader by what ``path`` is."""
    if not os.path.exists(path):
        raise DataFileError(f"{path}: no such file or folder")
    if os.path.isdir(path):
        return load_image_folder(path, num_classes=num_classes, input_range=input_range or (0.0, 1.0))
    low = path.lower()
    if low.endswith(".npz"):
        return load_npz(path, num_classes=num_classes, input_range=input_range)
    if low.endswith(".npy"):
        return load_npy(path, num_classes=num_classes, input_range=input_range)
    if low.endswith((".csv", ".tsv")):
        if not target:
            raise DataFileError(f"{path}: CSV data needs the target column (--target NAME)")
        return load_csv(path, target, num_classes=num_classes, input_range=input_range)
    raise DataFileError(f"{path}: unknown data format (use .npz, .npy, .csv or a folder of class subfolders)")
