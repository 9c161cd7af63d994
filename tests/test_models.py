"""Every model on a fast run (real SocialEQ curves, fake embeddings); the numpy inference equals the torch
network; baselines against independent references; metrics on known values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import FakeVectors, small_table
from lightning_eq.config import Config, merge
from lightning_eq.models.baselines import RidgeBaseline, knn_scores, ridge_path
from lightning_eq.models.catalog import MODEL_KEYS, build_model, embedder_keys
from lightning_eq.models.metrics import mae, other_raters_mae, pearson_rows, score
from lightning_eq.models.net import StackedNet
from lightning_eq.models.neural import forward
from lightning_eq.models.store import StoredModel, load_model, save_model

FAST = {"head.max_epochs": 3, "head.hidden_sizes": [16], "trainer.accelerator": "cpu", "baseline.knn_k": [5],
        "baseline.ridge_alpha": [100.0]}


@pytest.fixture(scope="module")
def part(data):
    table = small_table(data, 80)
    vectors = FakeVectors(data.words)
    return table, vectors


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_every_model_fits_predicts_and_round_trips(key, part, tmp_path):
    table, vectors = part
    cfg = merge(Config(), FAST)
    features = vectors.features(cfg, embedder_keys(key, cfg), table.words)
    model = build_model(key, cfg)
    model.fit(features, table.curves_unit, list(table.words), table.weights)
    pred = model.predict(features, len(table))
    assert pred.shape == (len(table), 40) and np.all((pred >= 0) & (pred <= 1))
    save_model(StoredModel(key, cfg, model, {"cv/mae_unit": 0.1}, None, tuple(table.vocabulary)), tmp_path)
    loaded = load_model(tmp_path, key)
    np.testing.assert_allclose(loaded.model.predict(features, len(table)), pred)
    assert loaded.config == cfg and loaded.words == tuple(table.vocabulary)


@pytest.mark.parametrize("kind", ["head", "ensemble", "attention"])
def test_numpy_inference_equals_the_torch_network(kind):
    dims = {"a": 9} if kind == "head" else {"a": 7, "b": 5}
    torch.manual_seed(0)
    net = StackedNet(1, dims, [16, 8], 0.3, kind, attention_dim=6, input_dropout=0.1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        net.feature_mean.normal_()
        net.feature_std.uniform_(0.5, 2.0)
    x = torch.randn(11, sum(dims.values()))
    weights = {k: v.numpy().astype(np.float64) for k, v in net.state_dict().items()}
    np.testing.assert_allclose(forward(weights, dims, kind, x.numpy().astype(np.float64)), net.predict(x, member=0).numpy(), atol=1e-6)


def test_attention_weights_sum_to_one():
    net = StackedNet(3, {"a": 4, "b": 6, "c": 5}, [8], 0.0, "attention", attention_dim=8)
    net(torch.randn(3, 7, 15))
    assert net.encoder.last_weights.shape == (3, 7, 3)
    assert torch.allclose(net.encoder.last_weights.sum(-1), torch.ones(3, 7))


def test_knn_predicts_the_mean_curve_of_the_nearest_words():
    words = np.eye(4)
    curves = np.arange(4 * 40, dtype=float).reshape(4, 40)
    query = np.array([[1.0, 0.9, 0.0, 0.0]])
    out = knn_scores(words, curves, query, [1, 2])
    np.testing.assert_allclose(out[0, 0], curves[0])
    np.testing.assert_allclose(out[1, 0], curves[:2].mean(axis=0))


def test_ridge_equals_scikit_learns_with_sample_weights():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((60, 12)) * rng.uniform(0.1, 5, 12), rng.random((60, 40)), rng.uniform(0.2, 2, 60)
    ours = RidgeBaseline(embedder="e", alpha=30.0)
    ours.fit({"e": x}, y, [], w)
    theirs = make_pipeline(StandardScaler(), Ridge(alpha=30.0)).fit(x, y, standardscaler__sample_weight=w, ridge__sample_weight=w)
    new = rng.standard_normal((5, 12))
    np.testing.assert_allclose(ours.predict({"e": new}), np.clip(theirs.predict(new), 0, 1), atol=1e-8)
    path = ridge_path(x, y, new, [30.0, 300.0], w)
    np.testing.assert_allclose(np.clip(path[0], 0, 1), ours.predict({"e": new}), atol=1e-10)


def test_metrics_on_known_values():
    true = np.tile(np.linspace(0, 1, 40), (2, 1))
    assert mae(true + 0.1, true) == pytest.approx(0.1)
    np.testing.assert_allclose(pearson_rows(true * 2 + 1, true), [1.0, 1.0])
    np.testing.assert_allclose(pearson_rows(-true, true), [-1.0, -1.0])
    metrics = score(np.vstack([true[0], 1 - true[0]]), true, ["a", "b"])
    assert metrics["test/r_word_pos"] == 0.5 and metrics["test/n_words"] == 2


def test_other_raters_mae_uses_only_the_other_records_of_a_word():
    curves = np.array([[0.0] * 40, [1.0] * 40, [0.5] * 40])
    value, n = other_raters_mae(curves, ["a", "a", "b"])
    assert (value, n) == (pytest.approx(1.0), 2)
