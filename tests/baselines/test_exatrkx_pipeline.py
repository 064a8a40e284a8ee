import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from torch_geometric.data import Data

from baselines.exatrkx import ExaTrkXTracker
from fm4npp_geo.tasks.protocol import UNASSIGNED, TrackFinder

# A tracker small enough to fit a handful of events in a few seconds.
SMALL = dict(
    embedding_hidden=32,
    embedding_layers=2,
    metric_learning_epochs=2,
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
    assert ((prediction.edge_scores >= 0) & (prediction.edge_scores <= 1)).all()
    assert torch.equal(prediction.labels, tracker.predict(event))
    assert 0 <= prediction.num_capped_hits <= event.num_nodes


def test_tracker_predict_tiny_events(synthetic_events):
    tracker = ExaTrkXTracker(**SMALL)
    tracker.fit(synthetic_events(2, num_particles=5, num_noise=5))
    empty = Data(pos=torch.empty(0, 3))
    assert tracker.predict(empty).shape == (0,)
    single = Data(pos=torch.tensor([[40.0, 0.0, 1.0]]))
    assert tracker.predict(single).tolist() == [0]


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
        gnn_hidden=32,
        gnn_iterations=4,
        gnn_epochs=20,
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
