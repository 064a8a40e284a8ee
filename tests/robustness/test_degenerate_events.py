"""Degenerate but valid events through every stage: simulation, validation,
serialization, k-NNN targets, the backbone alone and batched with another
event, every adapter and baseline, and the metrics."""

import functools
import math
import runpy
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.data import ParticleGun, SimulationConfig, simulate_events, validate_event
from fm4npp_geo.metrics import ClassificationEvaluator, TrackingEvaluator
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets
from fm4npp_geo.training import FM4NPPTracker
from fm4npp_geo.training.adapters import HitClassifier, QueryTracker
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

helpers = runpy.run_path(str(Path(__file__).with_name("_helpers.py")))
make_toy_event = runpy.run_path(str(Path(__file__).parents[1] / "conftest.py"))["make_toy_event"]
Case = helpers["Case"]

BACKBONE = dict(d_model=16, n_layer=1, headdim=8, d_state=8, chunk_size=16)
K = 4
SCHEMA_KEYS = ("pos", "energy", "layer", "particle_id", "pid_label", "noise_label", "particle_pt", "particle_eta")


def schema_only(event: Data) -> Data:
    return Data(**{key: event[key] for key in SCHEMA_KEYS}, num_nodes=event.num_nodes)


def empty_event() -> Data:
    config = SimulationConfig(source="gun", gun=ParticleGun(num_particles=0), noise_rate=0.0)
    return schema_only(simulate_events(1, seed=3, config=config)[0])


def one_hit_event() -> Data:
    event = make_toy_event(1, 0, seed=1)
    return Data(**{key: event[key][20:21] for key in SCHEMA_KEYS})


def noise_only_event() -> Data:
    return make_toy_event(0, 30, seed=2)


def unreconstructable_event() -> Data:
    # Pairs of hits per particle: none reaches the 3 hits of a truth track.
    event = make_toy_event(1, 6, seed=4)
    track = event.particle_id > 0
    event.particle_id[track] = torch.arange(int(track.sum())) // 2 + 1
    event.noise_label = event.particle_id == 0
    return event


def identical_event() -> Data:
    particle_id = torch.tensor([1] * 10 + [2] * 5 + [0] * 5)
    return Data(pos=torch.tensor([[40.0, 3.0, 5.0]]).repeat(20, 1), energy=torch.ones(20),
                layer=torch.full((20,), 8), particle_id=particle_id, pid_label=(particle_id > 0).long(),
                noise_label=particle_id == 0, particle_pt=(particle_id > 0).float(), particle_eta=torch.zeros(20))


def looper_event() -> Data:
    # A 0.08 GeV pion in 1.4 T curls with a radius of 19 cm, so it never
    # leaves the inner rows and crosses them turn after turn.
    gun = ParticleGun(species=(211, ), num_particles=1, pt_range=(0.08, 0.08), eta_range=(0.02, 0.02))
    config = SimulationConfig(source="gun", gun=gun, noise_rate=0.0, max_turns=30.0, energy_loss=False,
                              multiple_scattering=False)
    return schema_only(simulate_events(1, seed=0, config=config)[0])


EVENTS = {
    "empty": empty_event,
    "one_hit": one_hit_event,
    "noise_only": noise_only_event,
    "unreconstructable": unreconstructable_event,
    "identical_positions": identical_event,
    "looper": looper_event,
}


@functools.cache
def transforms() -> tuple[HitFeatures, HierarchicalRasterScan]:
    toy = [make_toy_event(4, 10, seed) for seed in range(4)]
    return HitFeatures.fit(toy), HierarchicalRasterScan.fit(toy)


@functools.cache
def prepared(name: str) -> Data:
    features, scan = transforms()
    return scan(features(validate_event(EVENTS[name]())))


@functools.cache
def toy_prepared() -> list[Data]:
    features, scan = transforms()
    return [scan(features(make_toy_event(4, 10, seed))) for seed in range(10, 14)]


@functools.cache
def fitted_models() -> dict:
    from baselines.exatrkx import ExaTrkXTracker
    from baselines.gnn import GNNPointClassifier

    train = toy_prepared()
    adapter = dict(backbone=BACKBONE, steps=1, batch_size=2)
    models = {
        "query_tracker": QueryTracker(hidden_channels=16, num_queries=8, num_layers=1, **adapter),
        "pid_classifier": HitClassifier(target="pid_label", hidden_channels=16, **adapter),
        "noise_classifier": HitClassifier(target="noise_label", hidden_channels=16, **adapter),
        "fm4npp_tracker": FM4NPPTracker(backbone=BACKBONE, hidden_channels=16, embedding_dim=4, steps=1,
                                        batch_size=2),
        "exatrkx": ExaTrkXTracker(embedding_hidden=16, embedding_layers=1, metric_learning_epochs=1,
                                  filter_hidden=8, filter_layers=1, filter_epochs=1, gnn_hidden=8,
                                  gnn_iterations=1, gnn_epochs=1),
        "gnn_pid": GNNPointClassifier(hidden=8, num_layers=1, epochs=1, k=4),
    }
    for model in models.values():
        model.fit(train, train[:1])
    return models


@functools.cache
def backbone() -> FM4NPPBackbone:
    torch.manual_seed(0)
    return FM4NPPBackbone(**BACKBONE).eval()


# Stages: each takes the event name and returns a value that its check reads.


def stage_validate(name):
    event = EVENTS[name]()
    return event, validate_event(event)


def stage_order(name):
    event = prepared(name)
    return name, event.order


def check_order(result):
    name, order = result
    assert torch.equal(order.sort().values, torch.arange(order.numel()))
    if name == "identical_positions":
        # One box and one radius: the stable sort keeps the input order.
        assert torch.equal(order, torch.arange(20))


def stage_knnn(name):
    event = KNNNTargets(k=K)(prepared(name))
    return event.order, event.knnn_mask, event.knnn_target


def check_knnn(result):
    order, mask, target = result
    num_hits = order.numel()
    # The hit at serialized position p has the N - 1 - p later hits as candidates.
    expected = torch.zeros(num_hits, dtype=torch.long)
    expected[order] = (num_hits - 1 - torch.arange(num_hits)).clamp(max=K)
    assert torch.equal(mask.sum(1), expected)
    assert target.shape == (num_hits, K, 3)
    assert bool(torch.isfinite(target).all())


def stage_backbone_batched(name):
    event, toy = prepared(name), toy_prepared()[0]
    with torch.no_grad():
        alone = backbone().forward_batch(event)
        batch = Batch.from_data_list([Data(x=item.x, order=item.order) for item in (toy, event, toy)])
        together = backbone().forward_batch(batch)
    return alone, together[batch.ptr[1]:batch.ptr[2]]


def check_backbone_batched(result):
    alone, together = result
    assert alone.shape == (together.shape[0], BACKBONE["d_model"])
    assert bool(torch.isfinite(alone).all())
    assert torch.allclose(alone, together, atol=1e-5)


def stage_knnn_loss(name):
    event = KNNNTargets(k=K)(prepared(name))
    return event.num_nodes, KNextNearestNeighbors(backbone(), k=K)(Batch.from_data_list([event])).item()


def check_knnn_loss(result):
    num_hits, loss = result
    assert math.isfinite(loss)
    if num_hits <= 1:
        assert loss == 0.0  # no hit has a next neighbour


def stage_predictions(name):
    event = prepared(name)
    return event.num_nodes, {key: model.predict(event) for key, model in fitted_models().items()}


def check_predictions(result):
    num_hits, predictions = result
    for key, labels in predictions.items():
        assert labels.shape == (num_hits, ), key
        assert labels.dtype == torch.long, key
        assert bool((labels >= -1).all()), key


def stage_metrics(name):
    event = prepared(name)
    tracking = TrackingEvaluator()
    tracking.update_event(event, event.particle_id)
    classes = ClassificationEvaluator(5)
    classes.update(event.pid_label, event.pid_label)
    return event.num_nodes, tracking.compute(), classes.compute()


def check_metrics(result):
    num_hits, tracking, classes = result
    # Truth labels as the prediction: a perfect clustering, by convention
    # also for an event without hits.
    assert tracking["ari"] == 1.0
    assert tracking["num_hits"] == num_hits
    assert classes["accuracy"] == (1.0 if num_hits else 0.0)


def check_validate(pair):
    event, validated = pair
    assert validated is event


STAGES = {
    "validate": (stage_validate, check_validate),
    "serialize": (stage_order, check_order),
    "knnn_targets": (stage_knnn, check_knnn),
    "backbone_batched": (stage_backbone_batched, check_backbone_batched),
    "knnn_loss": (stage_knnn_loss, check_knnn_loss),
    "models_predict": (stage_predictions, check_predictions),
    "metrics": (stage_metrics, check_metrics),
}

CASES = [
    Case(f"{name}_{stage}", functools.partial(lambda _, run, name: run(name), run=run, name=name), check=check)
    for name in EVENTS
    for stage, (run, check) in STAGES.items()
]


@pytest.mark.parametrize("case", helpers["params"](CASES))
def test_degenerate_event(case, tmp_path):
    helpers["run_case"](case, tmp_path)


def test_degenerate_event_builders():
    assert empty_event().num_nodes == 0
    assert one_hit_event().num_nodes == 1
    assert noise_only_event().particle_id.eq(0).all()
    counts = torch.bincount(unreconstructable_event().particle_id)[1:]
    assert counts.max() == 2
    assert identical_event().pos.unique(dim=0).shape[0] == 1
    looper = looper_event()
    assert looper.particle_id.unique().tolist() == [1]
    # Many turns: far more hits than the rows the particle reaches.
    assert looper.num_nodes > 20 * looper.layer.unique().numel()


def test_adapter_training_without_hits_rejected():
    empty = prepared("empty")
    tracker = QueryTracker(hidden_channels=16, num_queries=8, num_layers=1, backbone=BACKBONE, steps=1)
    with pytest.raises(ValueError, match="None of the 2 training events has hits; pass events with at least one"):
        tracker.fit([empty, empty])


def test_statistics_fit_on_degenerate_events_rejected():
    with pytest.raises(ValueError, match="HitFeatures.fit needs at least 2 hits, got 1"):
        HitFeatures.fit([one_hit_event(), empty_event()])
    with pytest.raises(ValueError, match=r"no hits with -inf <= r < 40.0 cm to fit the radial bins of that group"):
        HierarchicalRasterScan.fit([identical_event()])


def test_hundred_thousand_hits():
    generator = torch.Generator().manual_seed(0)
    num_hits = 100_000
    phi = (torch.rand(num_hits, generator=generator) * 2 - 1) * math.pi
    radius = 31.5 + torch.rand(num_hits, generator=generator) * 43.5
    particle_id = torch.randint(0, 3000, (num_hits, ), generator=generator)
    event = Data(pos=torch.stack([radius * phi.cos(), radius * phi.sin(),
                                  (torch.rand(num_hits, generator=generator) * 2 - 1) * 100], 1),
                 energy=torch.rand(num_hits, generator=generator), layer=torch.zeros(num_hits, dtype=torch.long),
                 particle_id=particle_id, particle_pt=(particle_id > 0).float(), particle_eta=torch.zeros(num_hits))
    features, scan = transforms()
    event = KNNNTargets(k=2)(scan(features(validate_event(event))))

    assert torch.equal(event.order.sort().values, torch.arange(num_hits))
    expected = torch.zeros(num_hits, dtype=torch.long)
    expected[event.order] = (num_hits - 1 - torch.arange(num_hits)).clamp(max=2)
    assert torch.equal(event.knnn_mask.sum(1), expected)

    torch.manual_seed(0)
    model = FM4NPPBackbone(d_model=8, n_layer=1, headdim=8, d_state=8, chunk_size=64)
    with torch.no_grad():
        hidden = model.forward_batch(event)
    assert hidden.shape == (num_hits, 8)
    assert bool(torch.isfinite(hidden).all())

    evaluator = TrackingEvaluator()
    evaluator.update_event(event, event.particle_id)
    result = evaluator.compute()
    assert result["ari"] == 1.0
    assert result["num_hits"] == num_hits
