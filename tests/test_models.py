"""Each model on a fast run, on real SocialEQ curves and deterministic fake embeddings."""

import dataclasses

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from lightning_eq.config import MODEL_KEYS, Config, HeadConfig
from lightning_eq.curves import z_to_unit
from lightning_eq.models.baselines import Validation
from lightning_eq.models.catalog import build_model, embedder_keys
from lightning_eq.models.head import EqHead
from lightning_eq.models.metrics import mae, pearson_rows, score
from lightning_eq.models.store import StoredModel, load_model, save_model
from lightning_eq.training.fit import TensorBatches


@pytest.fixture(scope="module")
def small(data):
    """200 records: features for every embedder key from a hash of the word, curves on the unit scale."""
    from conftest import FakeEmbedder

    records = data.records[:200]
    words = [r.descriptor for r in records]
    features = {k: FakeEmbedder(k, dim).embed(words) for k, dim in
                [("glove", 8), ("tok2vec", 12), ("gpt", 16), ("bert", 10), ("e5", 6)]}
    return features, z_to_unit(np.stack([r.curve_z for r in records])), words


def fast_config() -> Config:
    cfg = Config()
    cfg.head = dataclasses.replace(cfg.head, max_epochs=3, hidden_sizes=[16])
    cfg.trainer.accelerator = "cpu"
    return cfg


@pytest.mark.parametrize("key", ["glove", "tok2vec", "gpt", "bert", "e5", "ensemble", "attention"])
def test_lightning_fast_dev_run(key, small):
    features, y, _ = small
    cfg = fast_config()
    model = build_model(key, cfg)
    module = model.build(features)
    x = torch.from_numpy(np.concatenate([features[k] for k in embedder_keys(key, cfg)], axis=1))
    batches = TensorBatches(x, torch.from_numpy(y.astype(np.float32)), 32, shuffle=True)
    trainer = pl.Trainer(fast_dev_run=True, accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, batches, batches)
    out = module(x[:5])
    assert out.shape == (5, 40)
    assert torch.all((out > 0) & (out < 1))  # sigmoid outputs on the unit scale


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_every_model_fits_predicts_and_round_trips(key, small, tmp_path):
    features, y, words = small
    cfg = fast_config()
    model = build_model(key, cfg)
    val = Validation({k: v[150:] for k, v in features.items()}, y[150:], words[150:])
    model.fit({k: v[:150] for k, v in features.items()}, y[:150], words[:150], val=val)
    pred = model.predict({k: v[150:] for k, v in features.items()}, 50)
    assert pred.shape == (50, 40) and np.all(np.isfinite(pred))
    save_model(StoredModel(key, cfg, model), tmp_path)
    again = load_model(tmp_path, key).model.predict({k: v[150:] for k, v in features.items()}, 50)
    assert np.allclose(pred, again)


def test_training_lowers_the_training_loss(small):
    features, y, words = small
    cfg = fast_config()
    cfg.head = dataclasses.replace(cfg.head, max_epochs=40)
    model = build_model("bert", cfg)
    model.fit(features, y, words)
    losses = [e["train/mae_unit"] for e in model.history]
    assert losses[-1] < losses[0] - 0.005


def test_stepped_decay_follows_optimizer_updates():
    head = HeadConfig(lr=0.1, lr_step_updates=5, lr_gamma=0.5)
    module = EqHead({"x": 4}, head)
    config = module.configure_optimizers()
    opt, sched = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


def test_attention_weights_sum_to_one():
    module = EqHead({"a": 3, "b": 5}, HeadConfig(), kind="attention")
    module(torch.randn(7, 8))
    weights = module.encoder.last_weights
    assert weights.shape == (7, 2)
    assert torch.allclose(weights.sum(dim=1), torch.ones(7))


def test_knn_predicts_the_nearest_words_mean_curve():
    from lightning_eq.models.baselines import KnnBaseline

    vectors = np.array([[1, 0], [0, 1], [0, 1]], dtype=float)
    curves = np.array([np.full(40, 0.2), np.full(40, 0.8), np.full(40, 0.6)])
    knn = KnnBaseline(embedder="bert", k_candidates=(1,), k=1)
    knn.fit({"bert": vectors}, curves, ["dark", "bright", "bright"])
    pred = knn.predict({"bert": np.array([[0.1, 0.9]])})
    assert np.allclose(pred, 0.7)  # the mean of the two 'bright' records


def test_baselines_choose_hyperparameters_on_validation(small):
    features, y, words = small
    cfg = fast_config()
    ridge = build_model("ridge", cfg)
    ridge.fit({k: v[:150] for k, v in features.items()}, y[:150], words[:150],
              val=Validation({k: v[150:] for k, v in features.items()}, y[150:], words[150:]))
    assert ridge.chosen["alpha"] in cfg.baseline.ridge_alpha
    fixed = build_model("ridge", cfg, chosen=ridge.chosen)
    assert fixed.alpha_candidates == (ridge.chosen["alpha"],)


def test_metrics_on_known_values():
    true = np.tile(np.linspace(0.3, 0.7, 40), (4, 1))
    assert mae(true + 0.1, true) == pytest.approx(0.1)
    assert np.allclose(pearson_rows(true, true), 1)
    assert np.allclose(pearson_rows(1 - true, true), -1)
    s = score(1 - true, true, ["a", "a", "b", "b"])
    assert s["test/r_word"] == pytest.approx(-1) and s["test/r_word_pos"] == 0 and s["test/n_words"] == 2


def test_other_raters_mae_uses_only_the_other_records_of_a_word():
    from lightning_eq.models.metrics import other_raters_mae

    curves = np.array([np.full(40, 0.2), np.full(40, 0.4), np.full(40, 0.9), np.full(40, 0.5)])
    mae_unit, n = other_raters_mae(curves, ["warm", "warm", "warm", "alone"])
    # 0.2 vs mean(0.4, 0.9) = 0.45; 0.4 vs 0.55; 0.9 vs 0.3 -> (0.45 + 0.15 + 0.6) / 3; 'alone' has no other rater
    assert n == 3 and mae_unit == pytest.approx(0.4)
