import inspect

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from torch_geometric.data import Batch, Data

from baselines.exatrkx import ExaTrkXTracker
from baselines.exatrkx.prediction import STAGES
from fm4npp_geo.tasks.protocol import UNASSIGNED, TrackFinder

# A tracker small enough to fit a handful of events in a few seconds.
SMALL = dict(
    embedding_hidden=32,
    embedding_layers=2,
    metric_learning_epochs=2,
    filter_hidden=16,
    filter_layers=2,
    filter_epochs=1,
    gnn_hidden=16,
    gnn_iterations=2,
    gnn_epochs=1,
)


def majority_fraction(labels: torch.Tensor, particle_id: torch.Tensor) -> float:
    """Return the fraction of non-noise hits whose track's majority is their own."""
    correct = 0
    for label in labels.unique():
        members = particle_id[labels == label]
        values, counts = members.unique(return_counts=True)
        majority = values[counts.argmax()]
        correct += int(((members == majority) & (members != 0)).sum())
    return correct / int((particle_id != 0).sum())


def test_tracker_fit_and_predict(synthetic_events):
    train = synthetic_events(3, num_particles=5, num_noise=5)
    tracker = ExaTrkXTracker(**SMALL)
    summary = tracker.fit(train, val_events=synthetic_events(1, first_seed=100))

    event = synthetic_events(1, first_seed=200)[0]
    labels = tracker.predict(event)
    assert isinstance(tracker, TrackFinder)
    assert labels.shape == (event.num_nodes,)
    assert labels.dtype == torch.long
    assert (labels >= 0).all()
    assert tracker.num_parameters() > 0
    assert "val_edge_purity" in summary
    for key in ("metric_learning_loss", "edge_classifier_loss", "val_graph_efficiency"):
        assert np.isfinite(summary[key])


def test_tracker_predict_with_graph(synthetic_events):
    tracker = ExaTrkXTracker(**SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    event = synthetic_events(1, first_seed=50)[0]
    prediction = tracker.predict_with_graph(event)

    num_edges = prediction.edge_index.size(1)
    assert prediction.embedding.shape == (event.num_nodes, 12)
    assert prediction.edge_scores.shape == (num_edges,)
    assert prediction.filter_scores.shape == (num_edges,)
    assert ((prediction.edge_scores >= 0) & (prediction.edge_scores <= 1)).all()
    # Edges the filter removed never reach the GNN and score 0.
    removed = prediction.filter_scores <= tracker.config.filter_cut
    assert (prediction.edge_scores[removed] == 0).all()
    assert torch.equal(prediction.labels, tracker.predict(event))
    assert 0 <= prediction.num_capped_hits <= event.num_nodes
    assert set(prediction.seconds) == set(STAGES)


def test_tracker_predict_tiny_events(synthetic_events):
    tracker = ExaTrkXTracker(**SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    empty = Data(pos=torch.empty(0, 3))
    assert tracker.predict(empty).shape == (0,)
    single = Data(pos=torch.tensor([[40.0, 0.0, 1.0]]))
    assert tracker.predict(single).tolist() == [0]

    # A radius too small for any edge: every stage gets zero edges.
    tracker.config.radius = 1e-9
    event = synthetic_events(1, first_seed=70)[0]
    prediction = tracker.predict_with_graph(event)
    assert prediction.edge_index.shape == (2, 0)
    assert prediction.labels.tolist() == list(range(event.num_nodes))
    empty.particle_id = torch.empty(0, dtype=torch.long)
    metrics = tracker.edge_metrics([event, empty])
    assert metrics["graph_efficiency"] == 0.0
    assert np.isnan(metrics["edge_purity"])


def test_tracker_unassigns_small_tracks(synthetic_events):
    tracker = ExaTrkXTracker(min_track_size=3, **SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    event = synthetic_events(1, first_seed=60)[0]
    labels = tracker.predict(event)
    assigned = labels[labels != UNASSIGNED]
    assert (labels >= UNASSIGNED).all()
    assert (torch.bincount(assigned)[assigned] >= 3).all()


def test_tracker_invalid_arguments():
    with pytest.raises(ValueError, match="'edge_score_cut' in \\[0, 1\\), got 1.5"):
        ExaTrkXTracker(edge_score_cut=1.5)
    with pytest.raises(ValueError, match="'track_building' in"):
        ExaTrkXTracker(track_building="greedy")
    with pytest.raises(TypeError, match="unexpected keyword argument 'radius_cm'"):
        ExaTrkXTracker(radius_cm=1.0)
    with pytest.raises(ValueError, match="at least one training event"):
        ExaTrkXTracker(**SMALL).fit([])


def test_tracker_num_x_features_requires_x(synthetic_events):
    tracker = ExaTrkXTracker(num_x_features=2, **SMALL)
    with pytest.raises(ValueError, match="at least 2 columns"):
        tracker.fit(synthetic_events(1))


def test_tracker_recovers_tracks(synthetic_events):
    # Dense events with low-pT tracks and 100 noise hits, so that the graph
    # contains false edges that the edge classifier has to remove.
    options = dict(num_particles=25, num_noise=100, pt_range=(0.2, 3.0))
    train = synthetic_events(12, **options)
    test = synthetic_events(4, first_seed=1000, **options)
    tracker = ExaTrkXTracker(
        embedding_hidden=64,
        embedding_layers=3,
        metric_learning_epochs=6,
        max_num_neighbors=8,
        filter_hidden=32,
        filter_layers=2,
        filter_epochs=2,
        gnn_hidden=32,
        gnn_iterations=4,
        gnn_epochs=15,
        gnn_lr=3e-3,
        seed=0,
    )
    tracker.fit(train)

    metrics = tracker.edge_metrics(test)
    assert metrics["graph_efficiency"] > 0.95
    assert metrics["edge_efficiency"] > 0.95
    assert metrics["edge_purity"] > metrics["graph_purity"] + 0.02

    fractions, scores = [], []
    for event in test:
        labels = tracker.predict(event)
        fractions.append(majority_fraction(labels, event.particle_id))
        scores.append(adjusted_rand_score(event.particle_id, labels))
    assert np.mean(fractions) > 0.9
    assert np.mean(scores) > 0.8


def test_quality_checks_reject_trivial_labels(synthetic_events):
    # One track per hit has a majority fraction of 1 but an ARI near 0, and
    # one track for all hits has a majority fraction near 1 / num_particles.
    event = synthetic_events(1, num_particles=25, num_noise=100)[0]
    singletons = torch.arange(event.num_nodes)
    one_track = torch.zeros(event.num_nodes, dtype=torch.long)
    assert adjusted_rand_score(event.particle_id, singletons) < 0.1
    assert majority_fraction(one_track, event.particle_id) < 0.2


def test_tracker_signature_lists_options():
    parameters = inspect.signature(ExaTrkXTracker).parameters
    assert parameters["gnn_iterations"].default == 8
    assert parameters["edge_score_cut"].annotation == "float"


def test_tracker_empty_training_event(synthetic_events):
    train = synthetic_events(2, num_particles=5, num_noise=5)
    empty = Data(pos=torch.empty(0, 3), particle_id=torch.empty(0, dtype=torch.long))
    tracker = ExaTrkXTracker(**SMALL)
    summary = tracker.fit(train + [empty])
    assert np.isfinite(summary["edge_classifier_loss"])


def test_tracker_extra_metrics(synthetic_events):
    tracker = ExaTrkXTracker(**SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    metrics = tracker.extra_metrics(synthetic_events(2, first_seed=80))
    for key in ("edge_efficiency", "edge_purity", "graph_edge_efficiency", "graph_edge_purity"):
        assert 0.0 <= metrics[key] <= 1.0
    # Every stage only removes edges, so efficiency never rises.
    assert metrics["graph_edge_efficiency"] >= metrics["filter_edge_efficiency"]
    assert metrics["filter_edge_efficiency"] >= metrics["edge_efficiency"]


def test_tracker_save_and_load(synthetic_events, tmp_path):
    tracker = ExaTrkXTracker(checkpoint_dir=str(tmp_path), **SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "filter.pt",
        "gnn.pt",
        "metric_learning.pt",
    ]
    loaded = ExaTrkXTracker.load(tmp_path)
    event = synthetic_events(1, first_seed=90)[0]
    assert torch.equal(loaded.predict(event), tracker.predict(event))
    assert loaded.config.gnn_hidden == 16


def test_tracker_batch_with_empty_last_event(synthetic_events):
    tracker = ExaTrkXTracker(**SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    first, second = synthetic_events(2, first_seed=95)
    empty = Data(pos=torch.empty(0, 3), particle_id=torch.empty(0, dtype=torch.long),
                 layer=torch.empty(0, dtype=torch.long))
    batch = Batch.from_data_list([first, second, empty])
    labels = tracker.predict_batch(batch)
    assert labels.shape == (batch.num_nodes,)
    expected = torch.cat([tracker.predict(first), tracker.predict(second)])
    assert torch.equal(labels, expected)


@pytest.mark.parametrize("options", [
    dict(track_building="walkthrough"),
    dict(use_filter=False, gnn_undirected=True, gnn_loss_all_iterations=True),
])
def test_tracker_options_run(synthetic_events, options):
    tracker = ExaTrkXTracker(**SMALL, **options)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    event = synthetic_events(1, first_seed=99)[0]
    labels = tracker.predict(event)
    assert labels.shape == (event.num_nodes,)
    assert (labels >= 0).all()
