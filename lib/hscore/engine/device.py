"""Choosing where to train, and recording what it ran on."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ..errors import GPURequiredError
from ..paths import env

if TYPE_CHECKING:
    import torch

ALLOW_CPU_ENV = "HSCORE_ALLOW_CPU"


def pick_device(require_gpu: bool = False) -> torch.device:
    """The GPU when there is one, else the CPU; a profile that requires a GPU stops without one."""
    import torch  # imported here: versions() and the result readers need no torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if require_gpu and (env(ALLOW_CPU_ENV) or "").strip().lower() not in ("1", "true", "yes"):
        raise GPURequiredError(
            "this profile requires a GPU and torch sees none (torch.cuda.is_available() is False). "
            "Run it on a machine with a CUDA GPU, or force the CPU (very slow) with "
            f"{ALLOW_CPU_ENV}=1, e.g. `make reproduce PROFILE=paper ALLOW_CPU=1`.")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    import torch  # as in pick_device

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({platform.processor() or platform.machine()}, {threads} thread{'' if threads == 1 else 's'})"


PACKAGES = ("hscore", "torch", "transformers", "datasets", "numpy", "pandas", "tokenizers")


def versions() -> dict[str, str]:
    """Python and the versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
