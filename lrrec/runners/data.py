"""Datasets of the built-in tasks, loaded into tensors (small sets) or an ImageFolder (ImageNet).

scikit-learn's bundled sets and MNIST-1D are generated offline; CIFAR and ImageNet come from the user's
`--data-root`. A missing or malformed dataset raises `DataMissingError` naming the path and the format.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from lrrec.errors import LrrecError

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class DataMissingError(LrrecError):
    """The dataset is not where the task expects it, or not in the expected format."""


@dataclass
class TensorData:
    """A dataset held in memory: train/validation tensors plus what the model builder needs to know."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int
    augment: str = "none"  # "none" | "cifar" (random crop 32 pad 4 + horizontal flip, on the device)
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # per-channel mean/std for uint8 images

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def split_fixed(x: np.ndarray, y: np.ndarray, standardise: bool, val_frac: float = 0.2, seed: int = 0) -> TensorData:
    """A fixed stratified split (fixed seed, so every run of a task sees the same data).

    With `standardise`, features are centred and scaled by the training part's statistics, applied to both parts.
    """
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=round(len(x) * val_frac),
                                                      random_state=seed, stratify=y)
    if standardise:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return TensorData(torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.long),
                      torch.as_tensor(x_val, dtype=torch.float32), torch.as_tensor(y_val, dtype=torch.long),
                      int(y.max()) + 1)


def load_sklearn(name: str, image: bool = False) -> TensorData:
    """digits (8x8 images scaled to [0, 1], optionally kept as images), breast_cancer or wine (standardised)."""
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine}[name]
    bunch = loader()
    x = bunch.data.astype(np.float32)
    if name == "digits":
        x = x / 16.0
        if image:
            x = x.reshape(-1, 1, 8, 8)
    return split_fixed(x, bunch.target.astype(np.int64), standardise=name != "digits")


def load_mnist1d(seed: int = 0) -> TensorData:
    """MNIST-1D generated procedurally by the `mnist1d` package (no download): 4,000 train / 1,000 test."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    return TensorData(torch.as_tensor(data["x"], dtype=torch.float32), torch.as_tensor(data["y"], dtype=torch.long),
                      torch.as_tensor(data["x_test"], dtype=torch.float32),
                      torch.as_tensor(data["y_test"], dtype=torch.long), 10)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: dicts, lists, bytes and numpy arrays; any other global is refused."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
        ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> dict:
    try:
        return _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same user-facing problem
        raise DataMissingError(f"{path}: not a CIFAR python batch ({exc}); expected the files of "
                               f"cifar-10-python.tar.gz / cifar-100-python.tar.gz, extracted") from None


def load_cifar(name: str, data_root: str | Path | None) -> TensorData:
    """CIFAR-10/100 from the standard python-pickle batches under `data_root` (uint8 images, kept raw)."""
    folder_name, train_files, test_files, label_key, classes = {
        "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels", 10),
        "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", 100),
    }[name]
    if data_root is None:
        raise DataMissingError(f"{name} needs --data-root DIR containing {folder_name}/ (the extracted python "
                               f"version of the dataset)")
    root = Path(data_root)
    folder = root if (root / train_files[0]).exists() else root / folder_name
    missing = [f for f in train_files + test_files if not (folder / f).is_file()]
    if missing:
        raise DataMissingError(f"{name}: {folder} lacks {', '.join(missing)}; expected {folder_name}/ with "
                               f"{', '.join(train_files + test_files)} (python-pickle batches)")

    def read(files: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for f in files:
            batch = _read_cifar_batch(folder / f)
            try:
                xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(batch[label_key], dtype=np.int64))
            except (KeyError, ValueError) as exc:
                raise DataMissingError(f"{folder / f}: malformed CIFAR batch ({exc!r})") from None
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    x_train, y_train = read(train_files)
    x_val, y_val = read(test_files)
    return TensorData(x_train, y_train, x_val, y_val, classes, augment="cifar", normalize=(CIFAR_MEAN, CIFAR_STD))


@dataclass
class FolderData:
    """An ImageFolder dataset (ImageNet layout) read through DataLoaders with the standard augmentation."""

    train_dir: Path
    val_dir: Path
    n_classes: int
    image_size: int = 224
    workers: int = 4

    def loader(self, train: bool, batch_size: int, generator: torch.Generator | None = None) -> Any:
        """A DataLoader over train/ (RandomResizedCrop + flip) or val/ (resize + center crop)."""
        from torchvision import datasets as tv_datasets
        from torchvision import transforms as T

        normalize = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        if train:
            tf = T.Compose([T.RandomResizedCrop(self.image_size), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
        else:
            tf = T.Compose([T.Resize(int(self.image_size * 8 / 7)), T.CenterCrop(self.image_size), T.ToTensor(),
                            normalize])
        folder = tv_datasets.ImageFolder(str(self.train_dir if train else self.val_dir), transform=tf)
        return torch.utils.data.DataLoader(folder, batch_size=batch_size, shuffle=train, generator=generator,
                                           num_workers=self.workers, drop_last=train,
                                           pin_memory=torch.cuda.is_available())


def load_imagenet(data_root: str | Path | None) -> FolderData:
    """ImageNet from `data_root`/train and `data_root`/val ImageFolder trees (one sub-folder per class)."""
    if data_root is None:
        raise DataMissingError("imagenet needs --data-root DIR with train/ and val/ ImageFolder trees "
                               "(DIR/train/<class>/<image>.JPEG)")
    root = Path(data_root)
    train, val = root / "train", root / "val"
    for part in (train, val):
        if not part.is_dir() or not any(p.is_dir() for p in part.iterdir()):
            raise DataMissingError(f"imagenet: {part} is missing or has no class folders; expected "
                                   f"DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG")
    return FolderData(train, val, sum(1 for p in train.iterdir() if p.is_dir()))


def prepare_batch(x: torch.Tensor, data: TensorData, train: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Turn stored samples into model input: uint8 -> normalised float, plus train-time augmentation."""
    if data.normalize is not None:
        mean, std = _channel_stats(data.normalize, x.device)
        x = (x.float() / 255.0 - mean) / std
    if train and data.augment == "cifar":
        x = random_crop_flip(x, generator)
    return x


@lru_cache(maxsize=16)
def _channel_stats(normalize: tuple[tuple[float, ...], tuple[float, ...]],
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std as (1, C, 1, 1) tensors on `device`, made once (a host copy syncs a GPU)."""
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) for v in normalize)
    return mean, std


def generator_device(generator: torch.Generator | None) -> torch.device:
    """Where `generator` draws (the default generator, for None, draws on the CPU)."""
    return generator.device if generator is not None else torch.device("cpu")


def random_crop_flip(x: torch.Tensor, generator: torch.Generator | None, pad: int = 4) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip, vectorised over the batch (on its device).

    The offsets are drawn on the generator's device (CPU when there is none) and moved to the batch's.
    """
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dev = x.device
    rng = generator_device(generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rng).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rng).to(dev)
    flip = (torch.rand(n, generator=generator, device=rng) < 0.5).to(dev)
    rows = (dy.view(n, 1) + torch.arange(h, device=dev).view(1, h))  # n x h
    cols = (dx.view(n, 1) + torch.arange(w, device=dev).view(1, w))  # n x w
    cols = torch.where(flip.view(n, 1), cols.flip(1), cols)
    idx_rows = rows.view(n, 1, h, 1).expand(n, x.shape[1], h, w + 2 * pad)
    out = padded.gather(2, idx_rows)
    idx_cols = cols.view(n, 1, 1, w).expand(n, x.shape[1], h, w)
    return out.gather(3, idx_cols)
