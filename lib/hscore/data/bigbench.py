"""Three offline tasks whose real data ships in BIG-bench's PyPI source archive ``bigbench==1.0.0``.

The archive (``bigbench-1.0.0.tar.gz``, 358 MB) is never installed: it is downloaded once into
``hscore.paths.data_dir()`` and the three files below are extracted from it in one pass, each written
atomically, to ``data_dir()/bigbench-1.0.0/<member>``; later calls read the extracted files and need
neither the archive nor the network. ``HSCORE_DATA_DIR`` may point at any folder that holds the
extracted files.

**The registry no longer serves 1.0.0** (checked 2026-12-07: only 0.0.1, which holds no task data), so
on a fresh machine the archive cannot be downloaded: ``missing()`` says so in one line before any
training (``hscore plan`` and ``run`` ask it), naming what to put where. A small real cut of the three
files ships inside this package (``sample/``, how it was cut: ``sample/make_sample.py``, sources and
licenses: ``sample/README.md``); the ``*_sample`` tasks read it (``root=SAMPLE``) and need nothing
else, so the smoke profile runs anywhere, and the tests read it as their data folder.

- ``squad_dev`` (``squad_shifts/squaddev_v1.1.json``): the SQuAD v1.1 dev set in the standard SQuAD
  JSON, 48 articles, 2,067 paragraphs, 10,565 questions, every one answerable, 1-6 reference answers
  each (duplicates included, as in the file). 15 of the 34,680 answers have an ``answer_start`` one
  character before the answer text (the text starts with a space or continues a number, e.g.
  ``" 23–16"`` or ``"6-million-year-old"`` in ``"1.6-million-year-old"``); they are moved to the
  occurrence of the text nearest the recorded offset. An answer whose text is nowhere in its
  context would be dropped, and a question left without answers too (none in 1.0.0).
  Split by article: no paragraph is in both splits.
- ``social_iqa`` (``social_iqa/task.json``): BIG-bench's task JSON, ``examples`` of
  ``{"input": "<context> <question>? ", "target_scores": {option: 0 or 1, ...}}``. The question is
  the input's last sentence (the text after the last ``.``, ``!``, ``?``, ``"``, ``'`` or ``)``
  followed by white space, itself ending in ``?`` and holding none of ``.!?``); the context is
  everything before it. All 1,954 inputs of 1.0.0 split this way (an input that did not would keep
  the whole text as its question and an empty context). Options keep the file's order. Of the
  1,954 examples, 4 with only 2 options are dropped, 19 exact repeats (same input, options and
  answer) keep only their first copy and 5 pairs that repeat input and options with different
  answers are dropped entirely: 1,921 examples remain.
- ``vitaminc`` (``vitaminc_fact_verification/task.json``): the same task JSON with inputs
  ``"<Wikipedia page title>: <evidence sentence>\\nClaim: <claim>"`` and target scores over
  ``True``, ``False``, ``Neither``. ``text_a`` is the passage before ``"\\nClaim: "`` with its page
  title kept (titles may hold ``": "`` themselves, so it is not cut off); ``text_b`` is the claim.
  Exact repeats of an (evidence, claim) pair would keep their first copy (none in 1.0.0, so all
  54,668 pairs remain).

Every example's ``id`` is its index in the file (SQuAD: the question's position in file order,
articles, paragraphs, questions); dropped examples leave gaps. Splits are seeded: SQuAD's by article,
about 80/20 of the questions; Social IQa's stratified 80/20; VitaminC's stratified 90/10.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .. import pip
from ..errors import DataUnavailableError
from ..files import file_sha256
from ..paths import data_dir
from .split import Split, stratified_split, text_split

VITAMINC_LABELS = ("True", "False", "Neither")  # label ids 0, 1, 2: the bigbench file's words, in its order

ARCHIVE = "bigbench-1.0.0.tar.gz"
ROOT = "bigbench-1.0.0"  # the archive's top folder, and the extracted files' folder under data_dir()
ARCHIVE_SIZE_MB = 358
ARCHIVE_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
OLD_PIP = "pip==24.2"  # pip 26 refuses this archive (a direct-URL dependency in its metadata); 24.2 takes it

SQUAD_DEV = "bigbench/benchmark_tasks/squad_shifts/squaddev_v1.1.json"
SOCIAL_IQA = "bigbench/benchmark_tasks/social_iqa/task.json"
VITAMINC = "bigbench/benchmark_tasks/vitaminc_fact_verification/task.json"
MEMBERS = (SQUAD_DEV, SOCIAL_IQA, VITAMINC)  # relative to ROOT, inside the archive and under data_dir()
SAMPLE = Path(__file__).resolve().parent / "sample"   # the cut shipped in the package: SAMPLE/ROOT/<member>

SOCIAL_IQA_OPTIONS = 3
SQUAD_VALIDATION_FRACTION = 0.2
SOCIAL_IQA_VALIDATION_FRACTION = 0.2
VITAMINC_VALIDATION_FRACTION = 0.1


# --- the archive and its extracted files -------------------------------------------------------

def pip_command(dest: Path | str, pip_start: list[str] | None = None) -> list[str]:
    """The pip command that downloads the source archive (no install, no dependencies) into ``dest``;
    ``pip_start`` is how to start pip (default: this interpreter's ``-m pip``)."""
    return pip.command("download", "--no-deps", "--no-binary", ":all:", "--no-cache-dir", "bigbench==1.0.0", "-d",
                       str(dest), pip=pip_start)


def _by_hand(dest: Path) -> str:
    """What a user can do when the archive cannot be downloaded or read."""
    return (f"download it by hand into {dest} with a pip older than 26 (`pip install '{OLD_PIP}'` in another "
            f"environment, then `pip download --no-deps bigbench==1.0.0 -d {dest}`), or set HSCORE_DATA_DIR to a "
            f"folder holding {ROOT}/<member> for the members {', '.join(MEMBERS)}")


def extracted_dir() -> Path:
    """The folder of the extracted files: ``data_dir()/bigbench-1.0.0``."""
    return data_dir() / ROOT


def missing() -> str:
    """'' when the three files can be had without the registry (extracted, or the archive is in
    ``data_dir()``), else one line: what is missing, whether the registry still serves the archive,
    and what to put where. Asks the registry (``pip index versions``, no download) only then."""
    if all((extracted_dir() / m).is_file() for m in MEMBERS) or (data_dir() / ARCHIVE).is_file():
        return ""
    served = pip.serves("bigbench", "1.0.0")
    if served:
        return ""
    registry = ("the package registry no longer serves bigbench 1.0.0" if served is False
                else "the package registry could not be asked for bigbench 1.0.0")
    return (f"needs BIG-bench 1.0.0's task files, which are not in {data_dir()}, and {registry}: put {ARCHIVE} "
            f"({ARCHIVE_SIZE_MB} MB) there, or set HSCORE_DATA_DIR to a folder holding its extracted files "
            f"{ROOT}/bigbench/benchmark_tasks/<task>/... of {', '.join(m.rsplit('/', 2)[-2] for m in MEMBERS)}")


def member_file(relpath: str, root: Path | None = None) -> Path:
    """The extracted file ``data_dir()/bigbench-1.0.0/<relpath>``, extracted first when missing; with
    ``root``, the file ``root/bigbench-1.0.0/<relpath>`` as it is (the package's ``SAMPLE``).

    A missing file makes the archive come first (downloaded into ``data_dir()`` when absent), then one
    pass over it extracts every member of ``MEMBERS`` still missing (and ``relpath``)."""
    if root is not None:
        return Path(root) / ROOT / relpath
    path = extracted_dir() / relpath
    if path.is_file():
        return path
    missing = [m for m in dict.fromkeys((*MEMBERS, relpath)) if not (extracted_dir() / m).is_file()]
    extract_members(archive_file(), missing, extracted_dir())
    return path


_FAILED: dict[Path, DataUnavailableError] = {}   # a download that failed in this process is not tried again


def archive_file() -> Path:
    """The source archive in ``data_dir()``, downloaded first when it is not there (tried once per
    process and folder: the tasks that share the archive share the failure, said once)."""
    path = data_dir() / ARCHIVE
    if not path.is_file():
        if path in _FAILED:
            raise _FAILED[path]
        try:
            download_archive(data_dir())
        except DataUnavailableError as e:
            _FAILED[path] = e
            raise
    return path


def download_archive(dest: Path) -> Path:
    """Download ``ARCHIVE`` into ``dest`` with ``pip download``: this environment's pip, else pip 24.2.

    pip 26 and later refuse to download bigbench 1.0.0 (its metadata declares a direct-URL
    dependency); pip 24.2 still does, and runs from its own wheel (fetched with ``pip download``)
    without being installed. The file is checked against its SHA-256 and only then moved to its
    final name, so an interrupted download never leaves a partial archive behind."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / ARCHIVE
    print(f"downloading {ARCHIVE} (bigbench 1.0.0's source archive from PyPI, {ARCHIVE_SIZE_MB} MB) into {dest}",
          flush=True)
    tmp = dest / f".{ARCHIVE}.download-{os.getpid()}"
    problems = []
    try:
        for attempt in (_download_with_pip, _download_with_old_pip):
            try:
                attempt(tmp)
                digest = file_sha256(tmp)
                if digest != ARCHIVE_SHA256:
                    raise DataUnavailableError(f"SHA-256 {digest} instead of {ARCHIVE_SHA256}")
                os.replace(tmp, target)
                return target
            except (DataUnavailableError, OSError) as e:
                problems.append(f"{attempt.__name__.lstrip('_')}: {e}")
                tmp.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    raise DataUnavailableError(f"could not download {ARCHIVE} ({'; '.join(problems)}); {_by_hand(dest)}")


def _download_with_pip(target: Path, pip_start: list[str] | None = None) -> None:
    """Download the archive with ``pip download`` (which follows pip's own index and proxy settings)."""
    folder = target.with_name(target.name + ".pip")
    try:
        pip.run(pip_command(folder, pip_start))
        got = folder / ARCHIVE
        if not got.is_file():
            raise DataUnavailableError(f"`pip download` saved no {ARCHIVE}")
        os.replace(got, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _download_with_old_pip(target: Path) -> None:
    """The same with pip 24.2, run from its wheel (a wheel of pip is runnable as it is)."""
    folder = target.with_name(target.name + ".oldpip")
    try:
        pip.run(pip.command("download", "--no-deps", "--only-binary", ":all:", OLD_PIP, "-d", str(folder)))
        wheels = sorted(folder.glob("pip-*.whl"))
        if not wheels:
            raise DataUnavailableError(f"`pip download {OLD_PIP}` saved no wheel")
        _download_with_pip(target, [sys.executable, str(wheels[0] / "pip")])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def extract_members(archive: Path, relpaths, dest: Path) -> None:
    """Extract the members ``ROOT/<relpath>`` to ``dest/<relpath>`` in one streaming pass over the archive.

    Each file is written under a temporary name and renamed, so a file that exists is complete. A
    corrupt or truncated archive, or one that lacks a member, raises ``DataUnavailableError`` naming the
    archive to delete."""
    wanted = {f"{ROOT}/{r}": r for r in relpaths}
    done = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                if info.name in wanted and info.isfile():
                    _write_member(tar, info, dest / wanted[info.name])
                    done.add(info.name)
                    if len(done) == len(wanted):
                        break
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataUnavailableError(
            f"{archive} is corrupt or incomplete ({type(e).__name__}: {e}); delete it and run again to download "
            f"it anew, or {_by_hand(archive.parent)}") from e
    missing = sorted(set(wanted) - done)
    if missing:
        raise DataUnavailableError(f"{archive} lacks {', '.join(missing)}: it is not bigbench 1.0.0's source "
                                   f"archive or it is incomplete; delete it and run again to download it anew")


def _write_member(tar: tarfile.TarFile, info: tarfile.TarInfo, target: Path) -> None:
    """Copy one archive member to ``target`` through a temporary file in the same folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        with tar.extractfile(info) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def read_member_json(relpath: str, root: Path | None = None) -> dict:
    """The parsed JSON of an extracted member (extracted first when missing; ``root``: see ``member_file``)."""
    path = member_file(relpath, root)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataUnavailableError(f"{path} is not valid JSON ({e}); delete it to extract it again") from e


# --- shared helpers ---------------------------------------------------------------------------

def task_examples(relpath: str, root: Path | None = None) -> list[dict]:
    """The ``examples`` of a BIG-bench task JSON, each checked to hold an input and target scores."""
    data = read_member_json(relpath, root)
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list) or not all(
            isinstance(e, dict) and isinstance(e.get("input"), str) and isinstance(e.get("target_scores"), dict)
            for e in examples):
        raise DataUnavailableError(f"{member_file(relpath, root)} is not a BIG-bench task JSON with examples of "
                                   "'input' and 'target_scores'")
    return examples


def single_target(scores: dict) -> int | None:
    """The position of the only option scored 1 (every other scored 0), else None."""
    values = list(scores.values())
    if values.count(1) != 1 or any(v not in (0, 1) for v in values):
        return None
    return values.index(1)


def first_consistent(keys: list, labels: list[int]) -> np.ndarray:
    """Positions to keep among examples keyed for duplicates: the first of each key whose copies all
    carry the same label; every copy of a key whose copies disagree is dropped."""
    seen: dict = {}
    for pos, (key, label) in enumerate(zip(keys, labels)):
        seen.setdefault(key, []).append((pos, label))
    keep = [group[0][0] for group in seen.values() if len({label for _, label in group}) == 1]
    return np.asarray(sorted(keep), dtype=np.int64)


def group_split(groups: list[str], validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of positions by group: (train, validation), each sorted, no group in both.

    The groups are shuffled and the first ``k`` go to validation, ``k`` making their share of the
    positions closest to ``validation_fraction`` (at least one group on each side when there are two)."""
    groups = np.asarray(groups, dtype=object)
    names = list(dict.fromkeys(groups.tolist()))
    order = np.random.default_rng(seed).permutation(len(names))
    sizes = np.array([np.count_nonzero(groups == names[i]) for i in order])
    cumulative = np.cumsum(sizes)
    k = int(np.argmin(np.abs(cumulative - validation_fraction * len(groups)))) + 1
    if len(names) > 1:
        k = min(max(k, 1), len(names) - 1)
    val_names = {names[i] for i in order[:k]}
    in_val = np.array([g in val_names for g in groups.tolist()], dtype=bool)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def _stratified(full: Split, fraction: float, seed: int) -> dict[str, Split]:
    train, val = stratified_split(full.labels, fraction, seed)
    return {"train": full.take(train), "validation": full.take(val)}


# --- SQuAD v1.1 dev ---------------------------------------------------------------------------

def answer_offset(context: str, text: str, start: int) -> int | None:
    """``start`` when ``text`` is at ``start`` in ``context``, else the occurrence nearest it, else None."""
    if context.startswith(text, start):
        return start
    found = [m.start() for m in re.finditer(re.escape(text), context)] if text else []
    return min(found, key=lambda i: (abs(i - start), i)) if found else None


def squad_questions(data: dict) -> tuple[list[dict], dict[str, int]]:
    """The questions of a SQuAD JSON in file order, answers checked at their offsets.

    Each row holds ``id`` (position in file order), ``title``, ``context``, ``question`` and ``answers``;
    the counts say how many answers were ``moved`` to the text's nearest occurrence, how many were
    ``dropped`` (text not in the context) and how many questions were dropped for lack of answers."""
    rows, counts = [], {"answers": 0, "moved": 0, "dropped": 0, "questions_dropped": 0}
    position = 0
    try:
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    texts, starts = [], []
                    for answer in qa["answers"]:
                        counts["answers"] += 1
                        start = answer_offset(context, answer["text"], int(answer["answer_start"]))
                        if start is None:
                            counts["dropped"] += 1
                            continue
                        counts["moved"] += start != answer["answer_start"]
                        texts.append(answer["text"])
                        starts.append(start)
                    if texts:
                        rows.append({"id": position, "title": article["title"], "context": context,
                                     "question": qa["question"], "answers": {"text": texts, "answer_start": starts}})
                    else:
                        counts["questions_dropped"] += 1
                    position += 1
    except (KeyError, TypeError, ValueError) as e:
        raise DataUnavailableError(f"{member_file(SQUAD_DEV)} is not in the SQuAD JSON format ({e!r})") from e
    return rows, counts


def load_squad_dev(seed: int, root: Path | None = None) -> dict[str, Split]:
    """SQuAD v1.1 dev (extractive QA): train and validation, split by article, ~80/20 of the questions.

    Fields ``question``, ``context``, ``answers`` (every reference answer) and ``title``; labels are 1
    (every v1.1 question is answerable)."""
    rows, _ = squad_questions(read_member_json(SQUAD_DEV, root))
    fields = {name: [r[name] for r in rows] for name in ("question", "context", "answers", "title")}
    full = Split(np.asarray([r["id"] for r in rows], dtype=np.int64), np.ones(len(rows), dtype=np.int64), fields)
    train, val = group_split(fields["title"], SQUAD_VALIDATION_FRACTION, seed)
    return {"train": full.take(train), "validation": full.take(val)}


# --- Social IQa -------------------------------------------------------------------------------

_LAST_QUESTION = re.compile(r"^(?P<context>.*[.!?\"')])\s+(?P<question>[^.!?]*\?)$", re.DOTALL)


def split_social_iqa_input(text: str) -> tuple[str, str]:
    """(context, question) of a Social IQa input: the question is its last sentence, ending in ``?``.

    An input with no earlier sentence to cut at keeps the whole text as its question, context ``""``."""
    text = text.strip()
    match = _LAST_QUESTION.match(text)
    if match is None:
        return "", text
    return match["context"], match["question"]


def load_social_iqa(seed: int, root: Path | None = None) -> dict[str, Split]:
    """Social IQa (multiple choice, 3 options): train and validation, stratified 80/20 by answer.

    Fields ``context``, ``question`` and ``options`` (the file's order); labels are the position of the
    option scored 1. Examples without exactly 3 options and one of them scored 1 are dropped, and so
    are repeats (see the module docstring)."""
    examples = task_examples(SOCIAL_IQA, root)
    ids, labels, keys = [], [], []
    for i, e in enumerate(examples):
        target = single_target(e["target_scores"])
        if len(e["target_scores"]) != SOCIAL_IQA_OPTIONS or target is None:
            continue
        ids.append(i)
        labels.append(target)
        keys.append((e["input"].strip(), tuple(e["target_scores"])))
    keep = first_consistent(keys, labels)
    contexts, questions = zip(*(split_social_iqa_input(keys[p][0]) for p in keep)) if len(keep) else ((), ())
    fields = {"context": list(contexts), "question": list(questions), "options": [list(keys[p][1]) for p in keep]}
    full = Split(np.asarray(ids, dtype=np.int64)[keep], np.asarray(labels, dtype=np.int64)[keep], fields)
    return _stratified(full, SOCIAL_IQA_VALIDATION_FRACTION, seed)


# --- VitaminC ---------------------------------------------------------------------------------

CLAIM_SEPARATOR = "\nClaim: "


def split_vitaminc_input(text: str) -> tuple[str, str] | None:
    """(evidence, claim) of a VitaminC input ``"<title>: <evidence>\\nClaim: <claim>"``, else None."""
    if text.count(CLAIM_SEPARATOR) != 1:
        return None
    evidence, claim = text.split(CLAIM_SEPARATOR)
    evidence, claim = evidence.strip(), claim.strip()
    return (evidence, claim) if evidence and claim else None


def load_vitaminc(seed: int, root: Path | None = None) -> dict[str, Split]:
    """VitaminC fact verification (sentence-pair classification): stratified 90/10 split.

    ``text_a`` is the evidence (with its page title), ``text_b`` the claim; labels index
    ``VITAMINC_LABELS``. Inputs not in the evidence/claim layout, or without exactly one of the three
    labels scored 1, are dropped (none in 1.0.0); a repeated (evidence, claim) pair keeps its first
    copy, or none when the copies disagree (no repeats in 1.0.0: all 54,668 pairs are kept)."""
    examples = task_examples(VITAMINC, root)
    ids, labels, pairs = [], [], []
    for i, e in enumerate(examples):
        pair = split_vitaminc_input(e["input"])
        target = single_target(e["target_scores"])
        if pair is None or target is None or sorted(e["target_scores"]) != sorted(VITAMINC_LABELS):
            continue
        ids.append(i)
        labels.append(VITAMINC_LABELS.index(list(e["target_scores"])[target]))
        pairs.append(pair)
    keep = first_consistent(pairs, labels)
    full = text_split(np.asarray(ids, dtype=np.int64)[keep], [pairs[p][0] for p in keep],
                      [pairs[p][1] for p in keep], np.asarray(labels, dtype=np.int64)[keep])
    return _stratified(full, VITAMINC_VALIDATION_FRACTION, seed)
