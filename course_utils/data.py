"""MNIST for the course: a local copy first, torchvision's download where allowed, a fast cache.

Where the data comes from, in order:

1. ``root`` when you pass one;
2. the folder named by the ``COURSE_DATA_DIR`` environment variable;
3. the kit's cache folder (``COURSE_CACHE_DIR``, default ``~/.cache/autoencoder-course``).

Each of these is a torchvision root: it holds ``MNIST/raw/`` with the four original files,
gzipped or not. A read-only copy holding only the ``.gz`` files is fine: they are decompressed
into the cache folder, never beside the source. When no copy is found and downloading is
allowed, torchvision downloads MNIST into the cache folder (its real download path).

After the first load, the images are kept as one tensor file per split in the cache folder
(rebuilt when the raw files change), so later loads take well under a second.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from course_utils.paths import CACHE_ENV, DATA_ENV, OFFLINE_ENV, cache_dir, data_dir, fresh_copy  # noqa: F401 (re-exported)

RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE_FORMAT = 1


class MNISTNotFoundError(FileNotFoundError):
    """No copy of MNIST could be found, and it could not be downloaded."""


def _check_split(split: str) -> str:
    if split not in RAW_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def _raw_sources(root: Path) -> list[Path] | None:
    """The four raw files under ``root/MNIST/raw``, plain or gzipped; None when any is absent.

    torchvision's MNIST wants all four, whichever split it loads.
    """
    raw = root / "MNIST" / "raw"
    found = []
    for name in RAW_FILES["train"] + RAW_FILES["test"]:
        for candidate in (raw / name, raw / f"{name}.gz"):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            return None
    return found


def _candidate_roots(root) -> list[Path]:
    roots = []
    if root is not None:
        roots.append(Path(root).expanduser())
    if (local := data_dir()) is not None:
        roots.append(local)
    roots.append(cache_dir())
    return roots


def _download_allowed(download) -> bool:
    if download is not None:
        return bool(download)
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in {"1", "true", "yes"}


def _not_found(roots: list[Path], reason: str = "") -> MNISTNotFoundError:
    looked = ", ".join(str(r / "MNIST" / "raw") for r in roots)
    extra = f" ({reason})" if reason else ""
    return MNISTNotFoundError(
        f"MNIST was not found{extra}. Looked in: {looked}. "
        f"Put the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in <folder>/MNIST/raw/ and set "
        f"{DATA_ENV}=<folder>, or allow a download (load_mnist(download=True), unset {OFFLINE_ENV})."
    )


def _usable_root(root, split: str, download) -> Path:
    """A torchvision root whose ``MNIST/raw`` holds the uncompressed files of ``split``."""
    roots = _candidate_roots(root)
    for candidate in roots:
        sources = _raw_sources(candidate)
        if sources is None:
            continue
        if all(s.suffix != ".gz" for s in sources):
            return candidate
        # Decompress into the writable cache, never beside a (possibly read-only) source.
        target = cache_dir() / "MNIST" / "raw"
        target.mkdir(parents=True, exist_ok=True)
        for src in sources:
            plain = target / src.name.removesuffix(".gz")
            if src.suffix == ".gz" and not fresh_copy(plain, src):
                tmp = target / f".{plain.name}.{os.getpid()}.tmp"
                with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                os.replace(tmp, plain)
            elif src.suffix != ".gz" and not plain.exists():
                plain.symlink_to(src.resolve())
        return cache_dir()
    if not _download_allowed(download):
        raise _not_found(roots, "downloading is switched off")
    from torchvision.datasets import MNIST

    try:
        MNIST(str(cache_dir()), train=(split == "train"), download=True)
    except Exception as exc:  # no network, a mirror down, a full disk...
        raise _not_found(roots, f"the download failed: {type(exc).__name__}: {exc}") from None
    return cache_dir()


def load_mnist(split: str = "train", root=None, download=None, transform=None):
    """MNIST as a ``torchvision.datasets.MNIST`` dataset (PIL images unless you pass a transform).

    ``download=None`` means: download through torchvision if no local copy exists, unless the
    ``COURSE_OFFLINE`` environment variable is set. Raises :class:`MNISTNotFoundError` with the
    folders it looked in when no copy can be had.
    """
    from torchvision.datasets import MNIST

    split = _check_split(split)
    usable = _usable_root(root, split, download)
    return MNIST(str(usable), train=(split == "train"), download=False, transform=transform)


def _signature(root: Path, split: str) -> str:
    parts = [str(_CACHE_FORMAT)]
    for path in (root / "MNIST" / "raw" / n for n in RAW_FILES[split]):
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def mnist_tensors(split: str = "train", root=None, download=None) -> tuple[torch.Tensor, torch.Tensor]:
    """All of a split as ``(images uint8 [N, 28, 28], labels int64 [N])``, cached as a tensor file.

    The cache sits in :func:`cache_dir` and is rebuilt when the raw files change.
    """
    split = _check_split(split)
    usable = _usable_root(root, split, download)
    signature = _signature(usable, split)
    cache = cache_dir() / "MNIST" / "tensors" / f"{split}-{hashlib.sha1(str(usable).encode()).hexdigest()[:8]}.pt"
    if cache.is_file():
        try:
            saved = torch.load(cache, weights_only=True)
            if saved.get("signature") == signature:
                return saved["images"], saved["labels"]
        except Exception:
            pass  # a damaged or old cache is rebuilt below
    dataset = load_mnist(split, root=usable, download=False)
    images, labels = dataset.data.clone(), dataset.targets.clone().long()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"signature": signature, "images": images, "labels": labels}, tmp)
    os.replace(tmp, cache)
    return images, labels


def fixed_subset_indices(total: int, n: int | None, seed: int = 0) -> torch.Tensor:
    """``n`` distinct indices out of ``range(total)``, the same for the same seed (all if n is None)."""
    if n is None or n >= total:
        return torch.arange(total)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:n].sort().values


def load_mnist_flat(split: str = "train", n: int | None = None, seed: int = 0, root=None,
                    download=None, flat: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as float tensors in [0, 1]: ``X [n, 784]`` (or ``[n, 1, 28, 28]`` with flat=False), ``y [n]``.

    ``n`` picks a fixed random subset (the same for the same ``seed``); None keeps the whole split.
    """
    images, labels = mnist_tensors(split, root=root, download=download)
    return float_subset(images, labels, n, seed, flat)


def float_subset(images: torch.Tensor, labels: torch.Tensor, n: int | None = None, seed: int = 0,
                 flat: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed subset of ``load_mnist_flat`` out of a split's uint8 ``images`` and ``labels`` (new tensors)."""
    idx = fixed_subset_indices(len(labels), n, seed)
    X = images[idx].float().div_(255.0)
    X = X.reshape(len(idx), -1) if flat else X.unsqueeze(1)
    return X, labels[idx].clone()


def subset(dataset: Dataset, n: int, seed: int = 0) -> Subset:
    """A fixed random subset of ``n`` items of any dataset."""
    return Subset(dataset, fixed_subset_indices(len(dataset), n, seed).tolist())


def make_loader(*tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True, seed: int = 0,
                drop_last: bool = False) -> DataLoader:
    """A DataLoader over tensors (``make_loader(X)`` or ``make_loader(X, y)``), reproducible shuffling."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, drop_last=drop_last)
