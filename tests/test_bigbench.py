"""The bigbench tasks: loaders on the committed fixture cut from the real archive, and the archive's
download and one-pass extraction on a tiny fake archive (no test downloads anything)."""

from __future__ import annotations

import collections
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from hscore import pip
from hscore.data import bigbench
from hscore.errors import DataUnavailableError
from hscore.files import file_sha256

FIXTURES = bigbench.SAMPLE
REAL_DOWNLOAD = bigbench.download_archive


def raw(member: str) -> dict:
    """A fixture file's JSON, read independently of the module."""
    return json.loads((FIXTURES / bigbench.ROOT / member).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def fixture_data(monkeypatch):
    """Read the committed fixture; any attempt to download fails the test."""
    monkeypatch.setenv("HSCORE_DATA_DIR", str(FIXTURES))

    def no_download(dest):
        raise AssertionError("a test tried to download the bigbench archive")

    monkeypatch.setattr(bigbench, "download_archive", no_download)


def check_split_basics(splits: dict, fields: tuple[str, ...], num_labels: int):
    train, val = splits["train"], splits["validation"]
    assert len(train) > len(val) > 0
    for part in (train, val):
        assert part.ids.dtype == np.int64 and part.labels.dtype == np.int64
        assert len(np.unique(part.ids)) == len(part.ids) and np.all(np.diff(part.ids) > 0)
        assert set(part.fields) == set(fields)
        assert all(len(part[f]) == len(part) for f in fields)
        assert part.labels.min() >= 0 and part.labels.max() < num_labels
    assert not set(train.ids.tolist()) & set(val.ids.tolist())


def check_seeded(load):
    a, b = load(0), load(0)
    assert all(a[k].fingerprint() == b[k].fingerprint() for k in ("train", "validation"))
    others = [tuple(load(seed)["validation"].ids.tolist()) for seed in (1, 2, 3)]
    assert any(ids != tuple(a["validation"].ids.tolist()) for ids in others)


def check_stratified(splits: dict, fraction: float):
    train, val = splits["train"], splits["validation"]
    for label, n_val in collections.Counter(val.labels.tolist()).items():
        total = n_val + np.count_nonzero(train.labels == label)
        assert n_val == int(round(fraction * total))


# --- the fixture is found where member_file looks -----------------------------------------------

def test_member_file_finds_the_fixture_without_download():
    for member in bigbench.MEMBERS:
        assert bigbench.member_file(member) == FIXTURES / bigbench.ROOT / member


def test_fixture_is_small():
    sizes = [(FIXTURES / bigbench.ROOT / m).stat().st_size for m in bigbench.MEMBERS]
    assert sum(sizes) < 1_000_000


# --- SQuAD v1.1 dev -----------------------------------------------------------------------------

def raw_squad_questions():
    return [(a["title"], p["context"], q) for a in raw(bigbench.SQUAD_DEV)["data"]
            for p in a["paragraphs"] for q in p["qas"]]


def test_squad_splits_by_article_with_every_answer():
    splits = bigbench.load_squad_dev(0)
    check_split_basics(splits, ("question", "context", "answers", "title"), 2)
    questions = raw_squad_questions()
    ids = np.concatenate([splits["train"].ids, splits["validation"].ids])
    assert sorted(ids.tolist()) == list(range(len(questions)))  # nothing dropped in the fixture
    train, val = splits["train"], splits["validation"]
    assert not set(train["title"]) & set(val["title"])
    assert not set(train["context"]) & set(val["context"])
    for part in (train, val):
        assert np.all(part.labels == 1)
        for i, title, context, question, answers in zip(part.ids, part["title"], part["context"], part["question"],
                                                        part["answers"]):
            raw_title, raw_context, qa = questions[i]
            assert (title, context, question) == (raw_title, raw_context, qa["question"])
            assert answers["text"] == [a["text"] for a in qa["answers"]]
            assert 1 <= len(answers["text"]) <= 6 and len(answers["answer_start"]) == len(answers["text"])
            for text, start in zip(answers["text"], answers["answer_start"]):
                assert context[start:start + len(text)] == text


def test_squad_offsets_that_miss_their_text_are_moved():
    rows, counts = bigbench.squad_questions(raw(bigbench.SQUAD_DEV))
    misses = [(q["id"], a) for _, context, q in raw_squad_questions() for a in q["answers"]
              if not context.startswith(a["text"], a["answer_start"])]
    assert len(misses) == counts["moved"] == 2  # " 23–16" and " Jim Gray" in Super_Bowl_50, one character early
    assert counts["dropped"] == counts["questions_dropped"] == 0
    assert counts["answers"] == sum(len(q["answers"]) for _, _, q in raw_squad_questions())
    assert bigbench.answer_offset("a 1.6-million", "6-million", 3) == 4
    assert bigbench.answer_offset("no such text", "answer", 0) is None


def test_squad_split_is_seeded():
    check_seeded(bigbench.load_squad_dev)


def test_group_split_keeps_groups_whole_and_both_sides_filled():
    groups = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 10
    for seed in range(5):
        train, val = bigbench.group_split(groups, 0.2, seed)
        assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
        assert not {groups[i] for i in train} & {groups[i] for i in val}
        assert len(train) and len(val)
    train, val = bigbench.group_split(["a"] * 3 + ["b"], 0.9, 0)
    assert len(train) and len(val)


# --- Social IQa -----------------------------------------------------------------------------------

def expected_social_iqa_ids(examples):
    """Kept positions, computed independently: 3 options, then repeats by (input, options)."""
    groups = collections.defaultdict(list)
    for i, e in enumerate(examples):
        if len(e["target_scores"]) == 3:
            label = [v for v in e["target_scores"].values()].index(1)
            groups[(e["input"].strip(), tuple(e["target_scores"]))].append((i, label))
    return sorted(g[0][0] for g in groups.values() if len({label for _, label in g}) == 1)


def test_social_iqa_options_labels_and_text():
    splits = bigbench.load_social_iqa(0)
    check_split_basics(splits, ("context", "question", "options"), 3)
    examples = raw(bigbench.SOCIAL_IQA)["examples"]
    ids = sorted(np.concatenate([splits["train"].ids, splits["validation"].ids]).tolist())
    assert ids == expected_social_iqa_ids(examples)
    assert len(examples) - len(ids) >= 4 + 2  # the 2-option examples and a disagreeing pair are in the fixture
    for part in (splits["train"], splits["validation"]):
        for i, label, context, question, options in zip(part.ids, part.labels, part["context"], part["question"],
                                                        part["options"]):
            scores = examples[i]["target_scores"]
            assert options == list(scores) and len(options) == 3
            assert scores[options[label]] == 1 and sum(scores.values()) == 1
            text = examples[i]["input"].strip()
            assert question.endswith("?") and context and text.startswith(context) and text.endswith(question)
            assert text[len(context):len(text) - len(question)].strip() == ""
    check_stratified(splits, 0.2)


def test_social_iqa_question_is_the_last_sentence():
    split = bigbench.split_social_iqa_input
    assert split("Tracy didn't go home. What does Tracy need to do before this? ") == \
        ("Tracy didn't go home.", "What does Tracy need to do before this?")
    assert split('He asked "turn down for what?" and turned it up. What did Carson do? ') == \
        ('He asked "turn down for what?" and turned it up.', "What did Carson do?")
    assert split("What did Carson do?") == ("", "What did Carson do?")


def test_social_iqa_split_is_seeded():
    check_seeded(bigbench.load_social_iqa)


# --- VitaminC -------------------------------------------------------------------------------------

def test_vitaminc_pairs_and_labels_match_the_file():
    splits = bigbench.load_vitaminc(0)
    check_split_basics(splits, ("text_a", "text_b"), len(bigbench.VITAMINC_LABELS))
    examples = raw(bigbench.VITAMINC)["examples"]
    ids = sorted(np.concatenate([splits["train"].ids, splits["validation"].ids]).tolist())
    assert ids == list(range(len(examples)))
    for part in (splits["train"], splits["validation"]):
        for i, label, evidence, claim in zip(part.ids, part.labels, part.text_a, part.text_b):
            example = examples[i]
            assert example["input"] == f"{evidence}\nClaim: {claim}"
            assert example["target_scores"][bigbench.VITAMINC_LABELS[label]] == 1
            assert sum(example["target_scores"].values()) == 1
    assert set(np.concatenate([s.labels for s in splits.values()]).tolist()) == {0, 1, 2}
    check_stratified(splits, 0.1)


def test_vitaminc_repeated_pairs_are_dropped(tmp_path, monkeypatch):
    data = raw(bigbench.VITAMINC)
    first, second = data["examples"][0], data["examples"][1]
    names = list(second["target_scores"])
    other = next(k for k in names if second["target_scores"][k] == 0)
    flipped = {k: int(k == other) for k in names}
    data["examples"] = data["examples"] + [dict(first), {"input": second["input"], "target_scores": flipped}]
    target = tmp_path / bigbench.ROOT / bigbench.VITAMINC
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path))
    splits = bigbench.load_vitaminc(0)
    ids = set(np.concatenate([s.ids for s in splits.values()]).tolist())
    n = len(data["examples"])
    assert 0 in ids and n - 2 not in ids                  # a repeat keeps its first copy
    assert 1 not in ids and n - 1 not in ids              # disagreeing copies are both dropped
    assert len(ids) == n - 3


def test_vitaminc_split_is_seeded():
    check_seeded(bigbench.load_vitaminc)


# --- the archive: one-pass extraction, download, errors -------------------------------------------

def fake_archive(path: Path, members=bigbench.MEMBERS) -> dict[str, bytes]:
    """A tiny tar.gz laid out like the real one: the members under bigbench-1.0.0/, among other files."""
    contents = {m: json.dumps({"member": m, "examples": []}).encode() for m in members}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("README.md", b"readme"), *contents.items(), ("bigbench/api/x.py", b"")]:
            info = tarfile.TarInfo(f"{bigbench.ROOT}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return contents


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("HSCORE_DATA_DIR", str(folder))
    return folder


def test_member_file_downloads_once_and_extracts_all_members_in_one_pass(tmp_path, empty_data_dir, monkeypatch):
    contents = fake_archive(tmp_path / "fake.tar.gz")
    calls = []

    def download(dest):
        calls.append(dest)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "fake.tar.gz", dest / bigbench.ARCHIVE)
        return dest / bigbench.ARCHIVE

    monkeypatch.setattr(bigbench, "download_archive", download)
    path = bigbench.member_file(bigbench.SOCIAL_IQA)
    assert path == empty_data_dir / bigbench.ROOT / bigbench.SOCIAL_IQA
    assert calls == [empty_data_dir]
    for member, data in contents.items():
        assert (empty_data_dir / bigbench.ROOT / member).read_bytes() == data
    assert not [p for p in empty_data_dir.rglob("*") if p.name.startswith(".")]  # no temporary files left
    (empty_data_dir / bigbench.ARCHIVE).unlink()  # later calls need neither the archive nor a download
    assert bigbench.member_file(bigbench.VITAMINC).read_bytes() == contents[bigbench.VITAMINC]
    assert bigbench.member_file(bigbench.SQUAD_DEV).read_bytes() == contents[bigbench.SQUAD_DEV]
    assert len(calls) == 1


def test_member_file_uses_an_archive_already_there(empty_data_dir):
    empty_data_dir.mkdir()
    contents = fake_archive(empty_data_dir / bigbench.ARCHIVE)
    assert bigbench.member_file(bigbench.VITAMINC).read_bytes() == contents[bigbench.VITAMINC]


def test_download_archive_checks_the_hash_and_keeps_no_partial_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bigbench, "download_archive", REAL_DOWNLOAD)  # with both ways of downloading faked
    fake = tmp_path / "fake.tar.gz"
    contents = fake_archive(fake)
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(bigbench, "_download_with_pip", lambda target: shutil.copy(fake, target))
    monkeypatch.setattr(bigbench, "_download_with_old_pip", lambda target: pytest.fail("pip 24.2 is not needed"))
    monkeypatch.setattr(bigbench, "ARCHIVE_SHA256", file_sha256(fake))
    assert bigbench.member_file(bigbench.SQUAD_DEV).read_bytes() == contents[bigbench.SQUAD_DEV]
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "358 MB" in out and bigbench.ARCHIVE in out

    other = tmp_path / "other"
    monkeypatch.setattr(bigbench, "ARCHIVE_SHA256", "0" * 64)
    monkeypatch.setattr(bigbench, "_download_with_old_pip", lambda target: shutil.copy(fake, target))
    with pytest.raises(DataUnavailableError, match="SHA-256"):
        bigbench.download_archive(other)
    assert list(other.iterdir()) == []


def test_download_failure_names_the_commands_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(bigbench, "download_archive", REAL_DOWNLOAD)
    monkeypatch.setenv("HSCORE_DATA_DIR", str(tmp_path / "data"))

    commands = []

    def pip_fails(args, **kwargs):
        commands.append(args)
        if "pip==24.2" in args:
            return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution (no network)\n")
        return subprocess.CompletedProcess(args, 1, "", "ERROR: Distributions from PyPI cannot declare direct URL "
                                                        "dependencies.\n")

    monkeypatch.setattr(pip.subprocess, "run", pip_fails)
    with pytest.raises(DataUnavailableError) as error:
        bigbench.load_social_iqa(0)
    message = str(error.value)
    assert "download --no-deps --no-binary :all: --no-cache-dir bigbench==1.0.0 -d" in message
    assert "pip download --no-deps bigbench==1.0.0 -d" in message and "HSCORE_DATA_DIR" in message
    assert "no network" in message and "direct URL" in message
    assert [c[-3] for c in commands] == ["bigbench==1.0.0", "pip==24.2"]  # this pip first, then pip 24.2
    assert not (tmp_path / "data" / bigbench.ARCHIVE).exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_pip_command_downloads_the_source_archive_only():
    command = bigbench.pip_command("/some/dir")
    assert command[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "bigbench==1.0.0"} <= set(command)
    assert command[command.index("--no-binary") + 1] == ":all:" and command[-2:] == ["-d", "/some/dir"]


@pytest.mark.parametrize("damage", ["truncated", "not_gzip"])
def test_a_corrupt_archive_names_the_file_to_delete(tmp_path, empty_data_dir, damage):
    fake = tmp_path / "fake.tar.gz"
    fake_archive(fake)
    data = fake.read_bytes()
    empty_data_dir.mkdir()
    archive = empty_data_dir / bigbench.ARCHIVE
    archive.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a gzip file" * 100)
    with pytest.raises(DataUnavailableError, match="delete it") as error:
        bigbench.member_file(bigbench.SOCIAL_IQA)
    assert str(archive) in str(error.value)
    assert not (empty_data_dir / bigbench.ROOT / bigbench.SOCIAL_IQA).exists()


def test_an_archive_without_the_members_is_rejected(tmp_path, empty_data_dir):
    empty_data_dir.mkdir()
    fake_archive(empty_data_dir / bigbench.ARCHIVE, members=(bigbench.SQUAD_DEV,))
    with pytest.raises(DataUnavailableError, match="lacks"):
        bigbench.member_file(bigbench.SQUAD_DEV)


def test_invalid_json_is_reported(empty_data_dir):
    target = empty_data_dir / bigbench.ROOT / bigbench.SOCIAL_IQA
    target.parent.mkdir(parents=True)
    target.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataUnavailableError, match="delete it"):
        bigbench.load_social_iqa(0)
