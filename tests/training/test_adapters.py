import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.metrics import adjusted_rand_index
from fm4npp_geo.training.adapters import HitClassifier, QueryTracker
from fm4npp_geo.training import load_backbone, pretrain_backbone
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

SMALL_BACKBONE = dict(d_model=32, n_layer=2, d_state=8, headdim=16, chunk_size=64)


@pytest.fixture(scope='module')
def prepared(request):
    from tests.conftest import make_toy_event
    events = [make_toy_event(num_particles=6 + i % 3, num_noise=10, seed=i)
              for i in range(10)]
    features = HitFeatures.fit(events)
    scan = HierarchicalRasterScan.fit(events)
    return [scan(features(event.clone())) for event in events], features, scan


@pytest.fixture(scope='module')
def checkpoint(prepared, tmp_path_factory):
    events = prepared[0]
    path = tmp_path_factory.mktemp('backbone') / 'backbone.pt'
    pretrain_backbone(events[:6], backbone=SMALL_BACKBONE, k=4, steps=10,
                      batch_size=3, lr=3e-3, checkpoint=path)
    return str(path)


def degenerate_events(features, scan):
    # Zero hits, one hit, and only noise.
    empty = Data(pos=torch.zeros(0, 3), energy=torch.zeros(0),
                 layer=torch.zeros(0, dtype=torch.long),
                 particle_id=torch.zeros(0, dtype=torch.long),
                 pid_label=torch.zeros(0, dtype=torch.long),
                 noise_label=torch.zeros(0, dtype=torch.bool), num_nodes=0)
    one = Data(pos=torch.tensor([[40.0, 0.0, 1.0]]), energy=torch.ones(1),
               layer=torch.tensor([10]), particle_id=torch.tensor([1]),
               pid_label=torch.tensor([1]), noise_label=torch.tensor([False]),
               num_nodes=1)
    noise = Data(pos=torch.tensor([[40.0, 0.0, 1.0], [0.0, 50.0, -3.0]]),
                 energy=torch.ones(2), layer=torch.tensor([10, 20]),
                 particle_id=torch.zeros(2, dtype=torch.long),
                 pid_label=torch.zeros(2, dtype=torch.long),
                 noise_label=torch.ones(2, dtype=torch.bool), num_nodes=2)
    return [scan(features(event)) for event in (empty, one, noise)]


def test_query_tracker_keeps_backbone_frozen(prepared, checkpoint):
    events = prepared[0]
    tracker = QueryTracker(backbone_checkpoint=checkpoint, hidden_channels=32,
                           num_queries=16, steps=60, batch_size=4, lr=3e-3)
    before = {k: v.clone() for k, v in
              load_backbone(checkpoint).state_dict().items()}
    tracker.fit(events[:6], events[6:8])

    for event in events[8:]:
        labels = tracker.predict(event)
        assert labels.shape == (event.num_nodes, )
        assert labels.dtype == torch.long
        assert labels.min() >= -1
    assert tracker.num_parameters() == sum(
        p.numel() for p in tracker.head.parameters())
    assert not any(p.requires_grad for p in tracker.backbone.parameters())
    for name, value in tracker.backbone.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_finetune_moves_backbone(prepared):
    events = prepared[0]
    torch.manual_seed(0)
    tracker = QueryTracker(backbone=SMALL_BACKBONE, finetune=True,
                           hidden_channels=32, num_queries=16, steps=5,
                           batch_size=3, lr=3e-3)
    tracker.fit(events[:6])
    initial = QueryTracker(backbone=SMALL_BACKBONE, hidden_channels=32,
                           num_queries=16)._build_backbone()

    changed = [not torch.equal(a, b) for a, b in zip(
        tracker.backbone.state_dict().values(), initial.state_dict().values())]
    assert any(changed)
    assert tracker.num_parameters() > sum(
        p.numel() for p in tracker.head.parameters())


@pytest.mark.parametrize('target, classes', [('pid_label', 5), ('noise_label', 2)])
def test_hit_classifier_learns(prepared, checkpoint, target, classes):
    events = prepared[0]
    classifier = HitClassifier(target=target, backbone_checkpoint=checkpoint,
                               hidden_channels=32, steps=80, batch_size=4,
                               lr=5e-3)
    summary = classifier.fit(events[:8], events[8:])

    assert classifier.class_weight.shape == (classes, )
    predicted = classifier.predict(events[9])
    assert predicted.shape == (events[9].num_nodes, )
    assert predicted.max() < classes
    # Chance level is 1 / classes of the hits at best; the toy labels follow
    # the hits' particles, so the head does better than the majority class.
    majority = max(torch.bincount(torch.cat(
        [e[target].long() for e in events[8:]])).tolist())
    total = sum(e.num_nodes for e in events[8:])
    assert summary['val_accuracy'] >= majority / total - 0.05


def test_degenerate_events_train_and_predict(prepared, checkpoint):
    events, features, scan = prepared
    odd = degenerate_events(features, scan)
    tracker = QueryTracker(backbone_checkpoint=checkpoint, hidden_channels=32,
                           num_queries=8, steps=4, batch_size=3)
    tracker.fit(odd + events[:2], odd)
    classifier = HitClassifier(target='noise_label',
                               backbone_checkpoint=checkpoint,
                               hidden_channels=32, steps=4, batch_size=3)
    classifier.fit(odd + events[:2], odd)

    for event in odd:
        assert tracker.predict(event).shape == (event.num_nodes, )
        assert classifier.predict(event).shape == (event.num_nodes, )


def test_adapter_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="target to be one of"):
        HitClassifier(target='charge')
    with pytest.raises(ValueError, match='positive steps'):
        QueryTracker(steps=0)
    tracker = QueryTracker(backbone_checkpoint=str(tmp_path / 'none.pt'))
    with pytest.raises(FileNotFoundError, match='run pretraining first'):
        tracker.fit([])
