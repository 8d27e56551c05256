"""Datasets as normalised in-memory tensors with a seeded train/validation split.

Each dataset is read once per process (through torchvision or scikit-learn), normalised, and kept as
tensors on the chosen device, so a child step is an index into a tensor: no DataLoader, no PIL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lrctl.atomic import unwritable_reason, write_atomic
from lrctl.error_text import describe
from lrctl.errors import ConfigError, DataError, SettingError
from lrctl.idx import IDXError, check_idx, read_idx_bytes

if TYPE_CHECKING:
    from lrctl.config import EnvConfig
    from lrctl.settings import Setting

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

# Per-channel mean and std of the official training splits.
_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
_VALIDATION_SIZE = 10_000  # cut from the official training split (1/6 of it for smaller copies)
_DIGITS_FRACTION = 0.2  # digits: test and validation fractions (it has no official test split)

# torchvision class name and folder for each dataset it provides.
_TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class DatasetSplits:
    """Normalised inputs and integer labels of one dataset, all on one device.

    `train` and `val` come from the official training split (seeded permutation); `test` is the official
    test split and is only for reporting, never for observations or rewards.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training inputs and labels at `idx` (any shape: (B,), or (K, B) for K children).

        `index_select` on the flattened indices: on a CPU several times faster than `train_x[idx]`.
        """
        if idx.dim() == 1:
            return self.train_x.index_select(0, idx), self.train_y.index_select(0, idx)
        flat = idx.reshape(-1)
        x = self.train_x.index_select(0, flat).view(*idx.shape, *self.train_x.shape[1:])
        return x, self.train_y.index_select(0, flat).view(idx.shape)

    def to(self, device: torch.device | str) -> "DatasetSplits":
        """The same splits moved to `device`."""
        return DatasetSplits(
            *(getattr(self, n).to(device) for n in
              ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")),
            num_classes=self.num_classes,
        )


_CACHE: dict[tuple[str, str, str, int], DatasetSplits] = {}


def load_dataset(
    name: str,
    root: str | os.PathLike[str] = "",
    device: torch.device | str = "cpu",
    download: bool = True,
    split_seed: int = 0,
) -> DatasetSplits:
    """Load `name` into normalised tensors on `device`, once per process.

    `root` is the folder torchvision uses (ignored for digits). A root that already holds the raw files
    works offline; a missing dataset that cannot be downloaded raises `DataError`.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    root = str(Path(os.path.expanduser(str(root))).resolve()) if name != "digits" else ""
    key = (name, root, str(device), split_seed)
    if key not in _CACHE:
        if name == "digits":
            splits = _load_digits(split_seed)
        else:
            splits = _load_torchvision(name, root, download, split_seed)
        _CACHE[key] = splits.to(device)
    return _CACHE[key]


def _split(x: torch.Tensor, y: torch.Tensor, n_val: int, seed: int) -> tuple[torch.Tensor, ...]:
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]


def _load_digits(split_seed: int) -> DatasetSplits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    n_test = int(round(_DIGITS_FRACTION * len(x)))
    # A fixed held-out test part (seed independent of split_seed), then the seeded validation cut.
    rest_x, rest_y, test_x, test_y = _split(x, y, n_test, seed=12345)
    train_x, train_y, val_x, val_y = _split(
        rest_x, rest_y, int(round(_DIGITS_FRACTION * len(rest_x))), split_seed
    )
    mean, std = train_x.mean(), train_x.std()
    norm = lambda t: (t - mean) / std  # noqa: E731
    return DatasetSplits(norm(train_x), train_y, norm(val_x), val_y, norm(test_x), test_y, 10)


def _images_to_tensor(data: object, name: str) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) to normalised float32 (N, C, H, W)."""
    x = torch.as_tensor(np.asarray(data))
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    x = x.to(torch.float32).div_(255.0)
    mean, std = (torch.tensor(s, dtype=torch.float32).view(1, -1, 1, 1) for s in _STATS[name])
    return ((x - mean) / std).contiguous()


def _missing_message(name: str, root: str, reason: str) -> str:
    folder = Path(root) / _TORCHVISION[name] / ("raw" if name != "cifar10" else "")
    how = f"put the raw files under {folder}"
    if name == "fashion-mnist":
        how += (
            " or import a folder of IDX .gz files with "
            f"`lrctl data import fashion-mnist /usr/share/datasets/fashion-mnist --root {root}`"
        )
    elif name == "mnist":
        how += f" or import a folder of IDX .gz files with `lrctl data import mnist DIR --root {root}`"
    return f"dataset {name} not found under {root} ({reason}); {how}, or set env.data_root"


def _load_torchvision(name: str, root: str, download: bool, split_seed: int) -> DatasetSplits:
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TORCHVISION[name])
    try:
        train = cls(root, train=True, download=False)
        test = cls(root, train=False, download=False)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        if not download:
            raise DataError(_missing_message(name, root, "download is off")) from None
        try:
            train = cls(root, train=True, download=True)
            test = cls(root, train=False, download=True)
        except Exception as err:  # network errors come in many types (URLError, OSError, HTTPError...)
            raise DataError(_missing_message(name, root, f"download failed: {describe(err)}")) from None
    x = _images_to_tensor(train.data, name)
    y = torch.as_tensor(np.asarray(train.targets), dtype=torch.int64)
    train_x, train_y, val_x, val_y = _split(x, y, min(_VALIDATION_SIZE, len(x) // 6), split_seed)
    test_x = _images_to_tensor(test.data, name)
    test_y = torch.as_tensor(np.asarray(test.targets), dtype=torch.int64)
    return DatasetSplits(train_x, train_y, val_x, val_y, test_x, test_y, 10)


def import_idx_folder(name: str, source: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """Copy an MNIST-format folder of IDX files (.gz or plain) into `root` where torchvision finds them.

    This is how the Debian package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist) becomes
    usable offline. Returns the raw folder written. Every file is parsed and checked (magic number, sizes,
    label range) before anything is written; each is written to a temporary name, then renamed.
    """
    if name not in ("mnist", "fashion-mnist"):
        raise DataError(f"cannot import {name!r}: only mnist and fashion-mnist come as IDX files")
    source = Path(source).expanduser()
    if not source.is_dir():
        raise DataError(f"import source {str(source)!r} is not a folder; give the folder holding the IDX files")
    raw = Path(root).expanduser().resolve() / _TORCHVISION[name] / "raw"
    found = {}
    for stem in _IDX_FILES:
        for candidate in (source / f"{stem}.gz", source / stem):
            if candidate.is_file():
                found[stem] = candidate
                break
        else:
            raise DataError(
                f"import source {str(source)!r} lacks {stem}(.gz); it must hold the four IDX files "
                f"{', '.join(_IDX_FILES)}"
            )
    problem = unwritable_reason(raw, folder=True)
    if problem:
        raise DataError(f"cannot import into {str(raw)!r} ({problem}); choose another --root")
    if raw.exists() and raw.resolve() == source.resolve():
        raise DataError(f"import source {str(source)!r} is the folder it would be imported into; choose another "
                        "--root")
    contents: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    try:
        for stem, src in found.items():
            contents[stem] = read_idx_bytes(src, images="images" in stem)
            counts[stem] = check_idx(contents[stem], repr(str(src)), images="images" in stem)
    except IDXError as err:
        raise DataError(f"{err}; import the dataset's original IDX files") from None
    for split in ("train", "t10k"):
        if counts[f"{split}-images-idx3-ubyte"] != counts[f"{split}-labels-idx1-ubyte"]:
            raise DataError(f"import source {str(source)!r}: {counts[f'{split}-images-idx3-ubyte']} {split} images "
                            f"but {counts[f'{split}-labels-idx1-ubyte']} labels; the files do not belong together")
    for stem, data in contents.items():
        write_atomic(raw / stem, lambda tmp, data=data: tmp.write_bytes(data))
    for key in list(_CACHE):
        if key[0] == name:
            del _CACHE[key]
    return raw


_SPLIT_NAMES = ("train", "val", "test")
_USER_DATA: dict[int, tuple["Setting", DatasetSplits]] = {}


def setting_data(setting: "Setting", root: str | os.PathLike[str] = "", device: torch.device | str = "cpu",
                 download: bool = True) -> DatasetSplits:
    """The dataset of `setting` on `device`: a built-in one through `load_dataset`, a user's own (see
    `lrctl.settings.DataSource`) made and checked once per process, with its model checked against it.

    A user's data or model that does not fit is a `SettingError` with a one-line message.
    """
    if isinstance(setting.dataset, str):
        return load_dataset(setting.dataset, root, device, download)
    if id(setting) not in _USER_DATA:
        from lrctl.models import ModelError, check_child_model

        splits = user_splits(setting.dataset, setting.name)
        try:
            check_child_model(setting.model, splits.train_x[:2], splits.num_classes)
        except ModelError as err:
            raise SettingError(f"setting {setting.name!r}: {err}") from None
        _USER_DATA[id(setting)] = (setting, splits)  # the setting is kept, so its id stays its own
    return _USER_DATA[id(setting)][1].to(device)


def user_splits(source: object, label: str) -> DatasetSplits:
    """A user's data (`lrctl.settings.DataSource`) as checked `DatasetSplits` on the CPU.

    Inputs must be floating-point tensors of one sample shape (converted to float32), labels integer
    tensors of matching length in [0, num_classes) (converted to int64); `num_classes` defaults to the
    largest label plus one.
    """

    def fail(message: str) -> SettingError:
        return SettingError(f"setting {label!r}: {message}")

    if callable(source) and not isinstance(source, DatasetSplits):
        name = getattr(source, "__qualname__", type(source).__name__)
        try:
            source = source()
        except Exception as err:
            raise fail(f"data function {name} failed: {describe(err)}") from None
    if isinstance(source, DatasetSplits):
        fields: dict[str, object] = {n: getattr(source, n) for n in
                                     ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y", "num_classes")}
    elif isinstance(source, Mapping):
        fields = dict(source)
    else:
        raise fail(f"data must be a DatasetSplits or a mapping of tensors, got {type(source).__name__}")
    keys = [f"{split}_{part}" for split in _SPLIT_NAMES for part in ("x", "y")]
    missing = [k for k in keys if k not in fields]
    unknown = sorted(set(fields) - set(keys) - {"num_classes"})
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown key(s) {', '.join(map(str, unknown))}"
        raise fail(f"data: {problem}; give train_x, train_y, val_x, val_y, test_x, test_y (and num_classes)")
    tensors: dict[str, torch.Tensor] = {}
    for key in keys:
        value = fields[key]
        if not isinstance(value, torch.Tensor):
            raise fail(f"data {key} must be a torch.Tensor, got {type(value).__name__}")
        tensors[key] = value.detach().cpu()
    sample_shape = tuple(tensors["train_x"].shape[1:])
    for split in _SPLIT_NAMES:
        x, y = tensors[f"{split}_x"], tensors[f"{split}_y"]
        if not x.is_floating_point():
            raise fail(f"data {split}_x must hold floating-point inputs, got {x.dtype}; convert with .float()")
        if x.dim() < 2 or len(x) == 0:
            raise fail(f"data {split}_x must have shape (samples, ...) with samples >= 1, got {tuple(x.shape)}")
        if tuple(x.shape[1:]) != sample_shape:
            raise fail(f"data {split}_x has samples of shape {tuple(x.shape[1:])}, train_x of {sample_shape}")
        if not bool(torch.isfinite(x).all()):
            raise fail(f"data {split}_x holds NaN or infinite values")
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise fail(f"data {split}_y must hold integer class labels, got {y.dtype}; convert with .long()")
        if y.dim() != 1 or len(y) != len(x):
            raise fail(f"data {split}_y must have shape ({len(x)},) to match {split}_x, got {tuple(y.shape)}")
        tensors[f"{split}_x"], tensors[f"{split}_y"] = x.float().contiguous(), y.long()
    labels = torch.cat([tensors[f"{s}_y"] for s in _SPLIT_NAMES])
    num_classes = fields.get("num_classes", int(labels.max()) + 1)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise fail(f"data num_classes must be an integer >= 2, got {num_classes!r}")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise fail(f"data labels must lie in [0, {num_classes}), found {int(labels.min())}..{int(labels.max())}")
    return DatasetSplits(*(tensors[k] for k in keys), num_classes=num_classes)


def ensure_data(env: "EnvConfig") -> DatasetSplits:
    """Load (or download) the dataset of `env`'s setting, and those its tasks draw from, in this process,
    so that a missing dataset or device is one clear error here rather than one per worker process.
    Returns the setting's."""
    from lrctl.device import resolve_device
    from lrctl.settings import get_setting

    try:
        device = resolve_device(env.device)
    except ValueError as err:
        raise ConfigError(f"env.device: {err}") from None
    for name in env.tasks.datasets:
        if name in DATASETS:  # "synthetic" problems are made per episode
            splits = load_dataset(name, env.data_root, device, env.download)
            if name in _IMPORTABLE:
                _check_size(name, splits, env, env.tasks.batch_sizes)
    setting = get_setting(env.setting)
    splits = setting_data(setting, env.data_root, device, env.download)
    if setting.dataset in _IMPORTABLE:
        _check_size(setting.dataset, splits, env, (env.batch_size,))
    return splits


_IMPORTABLE = ("mnist", "fashion-mnist", "cifar10")
"""Datasets read from files under the data root, which may be partial copies (digits ships whole)."""


def _check_size(name: str, splits: DatasetSplits, env: "EnvConfig", batch_sizes: tuple[int, ...]) -> None:
    """A DataError where a dataset read from the data root (an imported copy, say) is too small for
    `env`: fewer validation samples than its validation subset, or fewer training samples than a batch."""
    where = f"dataset {name} under {env.data_root}"
    if len(splits.val_x) < env.val_subset_size:
        raise DataError(f"{where} has {len(splits.val_x)} validation samples, fewer than env.val_subset_size = "
                        f"{env.val_subset_size}; import the whole dataset or lower env.val_subset_size")
    if len(splits.train_x) < max(batch_sizes):
        raise DataError(f"{where} has {len(splits.train_x)} training samples, fewer than a batch of "
                        f"{max(batch_sizes)}; import the whole dataset or lower the batch size")
