"""The Exa.TrkX pipeline and the tracking metrics on the real TrackML sample event."""

from pathlib import Path

import pytest
import torch

from baselines.exatrkx import ExaTrkXTracker
from fm4npp_geo.data import read_trackml_event
from fm4npp_geo.metrics import adjusted_rand_index, fm4npp_efficiency_purity

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "trackml"
EVENT = DATA_DIR / "event000000001"

pytestmark = pytest.mark.skipif(
    not (DATA_DIR / "event000000001-hits.csv.gz").is_file(),
    reason=f"TrackML sample event not found in {DATA_DIR}",
)


def test_trained_pipeline_on_trackml_event():
    event = read_trackml_event(EVENT)
    # Silicon hits reach |z| ~ 300 cm, so z is scaled by 300 instead of the TPC's 100.
    tracker = ExaTrkXTracker(
        z_scale=300.0,
        embedding_hidden=64,
        metric_learning_epochs=20,
        gnn_hidden=32,
        gnn_iterations=4,
        gnn_epochs=20,
        edge_score_cut=0.5,
        min_track_size=3,
        seed=0,
    )
    # The sample is one event of 5,527 hits: it is trained and scored on itself, a
    # check that graph building, edge scoring and the metrics run on real
    # silicon-detector geometry, not a measure of generalisation.
    tracker.fit([event])
    prediction = tracker.predict_with_graph(event)
    edges = tracker.edge_metrics([event])
    labels = tracker.predict(event)

    assert labels.shape == (5527,)
    assert labels.dtype == torch.long
    assert prediction.edge_index.size(0) == 2
    assert prediction.edge_scores.shape == (prediction.edge_index.size(1),)
    # A random graph with 8 neighbours per hit among 5,527 would hold well
    # under 1% of the truth edges.
    assert edges["graph_efficiency"] > 0.5
    assert 0.0 <= edges["edge_purity"] <= 1.0

    # Trained on one sparse event (about 10 hits per particle), the edge
    # classifier learns little, so only the ranges of the track metrics are
    # checked. The graph efficiency above is the part that must have learned.
    efficiency, purity = fm4npp_efficiency_purity(labels, event.particle_id)
    ari = adjusted_rand_index(labels, event.particle_id)
    assert 0.0 <= efficiency <= 1.0
    assert 0.0 <= purity <= 1.0
    assert -1.0 <= ari <= 1.0
