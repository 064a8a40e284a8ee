import pytest
import torch
from torch_geometric.data import Batch, Data

from baselines.gnn import GNNPointClassifier

SMALL = dict(hidden=16, num_layers=2, k=6, epochs=15, batch_size=2, lr=1e-2)


def _labeled(event: Data, seed: int) -> Data:
    # Noise hits deposit 0.1 to 0.5, track hits 1 to 2 (ADC-like units), so
    # energy alone separates them. The PID class is the particle id modulo 5.
    generator = torch.Generator().manual_seed(seed)
    noise = event.particle_id == 0
    energy = torch.rand(event.num_nodes, generator=generator)
    event.energy = torch.where(noise, 0.1 + 0.4 * energy, 1.0 + energy)
    event.noise_label = noise
    event.pid_label = event.particle_id % 5
    return event


@pytest.fixture
def labeled_events(synthetic_events):
    def make(num_events: int, first_seed: int = 0) -> list[Data]:
        events = synthetic_events(num_events, first_seed, num_particles=6, num_noise=30)
        return [_labeled(event, first_seed + i) for i, event in enumerate(events)]

    return make


def test_classifier_learns_noise(labeled_events):
    classifier = GNNPointClassifier(target="noise_label", **SMALL)
    summary = classifier.fit(labeled_events(4), val_events=labeled_events(2, first_seed=50))
    assert summary["val_accuracy"] > 0.9
    assert classifier.target == "noise_label"
    assert classifier.num_parameters() > 0

    event = labeled_events(1, first_seed=60)[0]
    labels = classifier.predict(event)
    assert labels.shape == (event.num_nodes,)
    assert labels.dtype == torch.long
    assert set(labels.tolist()) <= {0, 1}


def test_classifier_pid_gat(labeled_events):
    classifier = GNNPointClassifier(target="pid_label", conv="gat", heads=2, **{**SMALL, "epochs": 1})
    classifier.fit(labeled_events(2))
    labels = classifier.predict(labeled_events(1, first_seed=70)[0])
    assert ((labels >= 0) & (labels < 5)).all()
    assert classifier.num_parameters() > 0


def test_classifier_batch_with_empty_last_event(labeled_events):
    classifier = GNNPointClassifier(target="noise_label", **{**SMALL, "epochs": 1})
    classifier.fit(labeled_events(2))
    first, second = labeled_events(2, first_seed=80)
    empty = Data(
        pos=torch.empty(0, 3),
        energy=torch.empty(0),
        particle_id=torch.empty(0, dtype=torch.long),
        layer=torch.empty(0, dtype=torch.long),
        noise_label=torch.empty(0, dtype=torch.bool),
        pid_label=torch.empty(0, dtype=torch.long),
    )
    batch = Batch.from_data_list([first, second, empty])
    labels = classifier.predict_batch(batch)
    expected = torch.cat([classifier.predict(first), classifier.predict(second)])
    assert labels.shape == (batch.num_nodes,)
    assert torch.equal(labels, expected)
    assert classifier.predict(empty).shape == (0,)


def test_classifier_save_and_load(labeled_events, tmp_path):
    path = tmp_path / "noise.pt"
    classifier = GNNPointClassifier(target="noise_label", checkpoint_path=str(path), **{**SMALL, "epochs": 1})
    classifier.fit(labeled_events(2))
    loaded = GNNPointClassifier(target="noise_label", **SMALL)
    loaded.load_weights(path)
    event = labeled_events(1, first_seed=90)[0]
    assert torch.equal(loaded.predict(event), classifier.predict(event))
    with pytest.raises(ValueError, match="checkpoint for target 'pid_label'"):
        GNNPointClassifier(target="pid_label", **SMALL).load_weights(path)


def test_classifier_invalid_inputs(labeled_events):
    with pytest.raises(ValueError, match="'target' in"):
        GNNPointClassifier(target="particle_id")
    with pytest.raises(ValueError, match="epochs >= 1"):
        GNNPointClassifier(epochs=0)
    event = labeled_events(1)[0]
    del event.noise_label
    with pytest.raises(ValueError, match="per-hit label 'noise_label'"):
        GNNPointClassifier(target="noise_label", **SMALL).fit([event])
    with pytest.raises(ValueError, match="at least one training event"):
        GNNPointClassifier(**SMALL).fit([])
