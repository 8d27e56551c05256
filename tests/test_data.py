"""Datasets: in-memory tensors, seeded split, offline import of IDX folders, clear errors."""

import gzip
import struct

import numpy as np
import pytest
import torch

from lrctl import data as data_mod
from lrctl.data import DataError, import_idx_folder, load_dataset


def _write_idx(folder, prefix, n, rng, gz=True):
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    blobs = {
        f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes(),
        f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + labels.tobytes(),
    }
    for name, blob in blobs.items():
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as handle:
                handle.write(blob)
        else:
            (folder / name).write_bytes(blob)
    return images, labels


@pytest.fixture
def idx_folder(tmp_path):
    src = tmp_path / "debian-fashion-mnist"
    src.mkdir()
    rng = np.random.default_rng(0)
    train = _write_idx(src, "train", 60, rng)
    test = _write_idx(src, "t10k", 12, rng)
    return src, train, test


def test_digits_load_as_normalised_tensors_with_fixed_split():
    splits = load_dataset("digits")
    assert splits.train_x.shape[1] == 64 and splits.train_x.dtype == torch.float32
    assert len(splits.train_x) + len(splits.val_x) + len(splits.test_x) == 1797
    assert abs(float(splits.train_x.mean())) < 1e-5
    again = data_mod._load_digits(0)
    assert torch.equal(again.val_y, splits.val_y)
    other = data_mod._load_digits(1)
    assert not torch.equal(other.val_y, splits.val_y)
    assert torch.equal(other.test_y, splits.test_y)  # the test part never moves


def test_imported_fashion_mnist_loads_offline(idx_folder, tmp_path):
    src, (train_images, _), (test_images, test_labels) = idx_folder
    root = tmp_path / "root"
    raw = import_idx_folder("fashion-mnist", src, root)
    assert sorted(p.name for p in raw.iterdir()) == sorted(data_mod._IDX_FILES)
    splits = load_dataset("fashion-mnist", root, download=False)
    assert splits.train_x.shape == (50, 1, 28, 28) and splits.val_x.shape == (10, 1, 28, 28)
    assert torch.equal(splits.test_y, torch.as_tensor(test_labels, dtype=torch.int64))
    expected = (test_images[0].astype(np.float32) / 255 - 0.2860) / 0.3530
    assert np.allclose(splits.test_x[0, 0].numpy(), expected, atol=1e-5)


def test_import_accepts_plain_idx_files(tmp_path):
    src = tmp_path / "plain"
    src.mkdir()
    rng = np.random.default_rng(1)
    _write_idx(src, "train", 12, rng, gz=False)
    _write_idx(src, "t10k", 6, rng, gz=False)
    import_idx_folder("mnist", src, tmp_path / "root")
    assert len(load_dataset("mnist", tmp_path / "root", download=False).test_y) == 6


def _corrupt(folder, stem, change):
    path = folder / f"{stem}.gz"
    with gzip.open(path, "rb") as handle:
        blob = bytearray(handle.read())
    with gzip.open(path, "wb") as handle:
        handle.write(bytes(change(blob)))


CORRUPTIONS = {
    "not-idx": ("train-images-idx3-ubyte", lambda b: b"hello", "not an IDX file of images"),
    "labels-as-images": ("train-images-idx3-ubyte", lambda b: b[:2] + bytes([8, 1]) + b[4:], "magic number"),
    "truncated": ("t10k-images-idx3-ubyte", lambda b: b[:-100], "header promises"),
    "not-28x28": ("train-images-idx3-ubyte", lambda b: b[:8] + (32).to_bytes(4, "big") + b[12:], "32x28"),
    "label-out-of-range": ("train-labels-idx1-ubyte", lambda b: b[:8] + bytes([42]) + b[9:], "label 42"),
    "count-mismatch": ("t10k-labels-idx1-ubyte", lambda b: b[:4] + (5).to_bytes(4, "big") + b[8:13],
                       "do not belong together"),
    "one-class-only": ("train-labels-idx1-ubyte", lambda b: b[:8] + bytes(len(b) - 8), "two classes"),
    "longer-than-its-header": ("train-images-idx3-ubyte", lambda b: b + bytes(784), "more data than its header"),
    "more-samples-than-the-limit": ("train-images-idx3-ubyte", lambda b: b[:4] + (10**7).to_bytes(4, "big") + b[8:],
                                    "above the limit"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_import_checks_every_file_before_writing_any(idx_folder, tmp_path, name):
    src, *_ = idx_folder
    stem, change, fragment = CORRUPTIONS[name]
    _corrupt(src, stem, change)
    with pytest.raises(DataError, match=fragment) as err:
        import_idx_folder("fashion-mnist", src, tmp_path / "root")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "root").exists()


def test_import_of_incomplete_folder_names_the_missing_file(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        import_idx_folder("fashion-mnist", tmp_path / "src", tmp_path / "root")


def test_missing_dataset_offline_is_one_line_naming_path_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("fashion-mnist", tmp_path / "empty", download=False)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "empty") in message
    assert "lrctl data import fashion-mnist" in message


def test_cli_data_import(idx_folder, tmp_path, capsys):
    from lrctl.cli import main

    src, *_ = idx_folder
    assert main(["data", "import", "fashion-mnist", str(src), "--root", str(tmp_path / "r")]) == 0
    assert "imported fashion-mnist" in capsys.readouterr().out
    assert main(["data", "import", "fashion-mnist", str(tmp_path / "nowhere"), "--root", str(tmp_path)]) == 2


def test_training_on_a_missing_dataset_fails_once_before_writing_anything(tmp_path, capsys):
    from lrctl.cli import main

    run = tmp_path / "run"
    code = main(["train", "--set", "env.setting=fmnist-mlp", "--set", f"env.data_root={tmp_path / 'none'}",
                 "--set", "env.download=false", "--run-dir", str(run)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lrctl data import fashion-mnist" in err
    assert not run.exists()


def test_train_batch_gathers_like_indexing():
    from tests.conftest import make_splits

    data = make_splits((1, 4, 4), n_train=20)
    for idx in (torch.tensor([3, 0, 7]), torch.tensor([[1, 2], [19, 1]])):
        x, y = data.train_batch(idx)
        assert torch.equal(x, data.train_x[idx]) and torch.equal(y, data.train_y[idx])


def test_a_small_gzip_that_expands_far_beyond_its_header_is_refused_while_streaming(idx_folder, tmp_path):
    import tracemalloc

    src, *_ = idx_folder
    with gzip.open(src / "train-images-idx3-ubyte.gz", "wb") as handle:  # 60 images promised, 300 MB sent
        handle.write(struct.pack(">IIII", 0x803, 60, 28, 28))
        for _ in range(300):
            handle.write(bytes(1 << 20))
    assert (src / "train-images-idx3-ubyte.gz").stat().st_size < 1 << 20
    tracemalloc.start()
    with pytest.raises(DataError, match="more data than its header promises"):
        import_idx_folder("fashion-mnist", src, tmp_path / "root")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * (1 << 20)


def test_an_imported_dataset_too_small_for_the_settings_validation_subset_is_refused(idx_folder, tmp_path, capsys):
    from lrctl.cli import main

    src, *_ = idx_folder
    import_idx_folder("fashion-mnist", src, tmp_path / "root")  # 60 training samples: 10 for validation
    out = tmp_path / "eval"
    code = main(["evaluate", "--setting", "fmnist-mlp", "--set", f"env.data_root={tmp_path / 'root'}",
                 "--set", "env.download=false", "--no-peers", "--workers", "1", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "10 validation samples" in err and "env.val_subset_size" in err
    assert not out.exists()
