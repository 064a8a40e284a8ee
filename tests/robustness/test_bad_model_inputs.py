"""Invalid settings and inputs of the transforms, models, adapters, baselines
and metrics, each with its exact error."""

import runpy
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.data import ParticleGun, SimulationConfig, TPCGeometry, TPCSimDataset, validate_event
from fm4npp_geo.metrics import ClassificationEvaluator, TrackingEvaluator, adjusted_rand_index, fm4npp_efficiency_purity
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.nn.heads.point_classifier import PointClassifier
from fm4npp_geo.nn.heads.query_decoder import QueryTrackDecoder
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets, knnn_targets
from fm4npp_geo.training import TrainerConfig
from fm4npp_geo.training.adapters import HitClassifier, QueryTracker
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

helpers = runpy.run_path(str(Path(__file__).with_name("_helpers.py")))
Case, tpc_event = helpers["Case"], helpers["tpc_event"]

TINY = dict(d_model=16, n_layer=1, headdim=8, d_state=8, chunk_size=16)


def backbone_on(**attributes):
    return lambda _: FM4NPPBackbone(**TINY).forward_batch(Data(**attributes))


def knnn_loss_with_other_k(_):
    event = KNNNTargets(k=4)(Data(x=torch.rand(5, 4), order=torch.arange(5)))
    return KNextNearestNeighbors(FM4NPPBackbone(**TINY), k=3)(Batch.from_data_list([event]))


def evaluate(event, prediction):
    evaluator = TrackingEvaluator()
    evaluator.update_event(event, prediction)
    return evaluator.compute()


def classify(prediction, target):
    evaluator = ClassificationEvaluator(5)
    evaluator.update(torch.tensor(prediction), torch.tensor(target))
    return evaluator.compute()


def exatrkx(**options):
    from baselines.exatrkx import ExaTrkXTracker

    return lambda _: ExaTrkXTracker(**options)


def gnn_classifier(**options):
    from baselines.gnn import GNNPointClassifier

    return lambda _: GNNPointClassifier(**options)


CASES = [
    # Transforms.
    Case("features_without_energy", lambda _: HitFeatures(0.0, 1.0, 30.0, 76.0)(Data(pos=torch.ones(2, 3))),
         ValueError, r"HitFeatures needs 'pos' \[num_hits, 3\] and 'energy' \[num_hits\]"),
    Case("features_zero_energy_spread", lambda _: HitFeatures(0.0, 0.0, 30.0, 76.0), ValueError,
         r"energy_std must be positive, got 0.0"),
    Case("scan_nan_position", lambda _: HierarchicalRasterScan([40.0], [0.0], [0.0])(
        Data(pos=torch.tensor([[float("nan"), 0.0, 0.0]]))), ValueError,
         r"HierarchicalRasterScan needs finite hit positions, got NaN or infinite values in 'pos'"),
    Case("scan_unknown_axis", lambda _: HierarchicalRasterScan([40.0], [0.0], [0.0], axis_order=("r", "z", "phi")),
         ValueError, r"axis_order must be a permutation of \('r', 'phi', 'eta'\)"),
    Case("scan_decreasing_edges", lambda _: HierarchicalRasterScan([57.0, 40.0], [0.0], [0.0]), ValueError,
         r"r_edges must be non-decreasing, got \[57.0, 40.0\]"),
    Case("knnn_zero_neighbours", lambda _: KNNNTargets(k=0), ValueError, r"k must be a whole number >= 1, got 0"),
    Case("knnn_nan_coordinates", lambda _: knnn_targets(torch.tensor([[float("nan"), 0.0, 0.0]] * 2), 1),
         ValueError, r"coords must be finite, got NaN or infinite values"),
    Case("knnn_without_order", lambda _: KNNNTargets(k=2)(Data(x=torch.rand(3, 4))), ValueError,
         r"KNNNTargets needs 'x' and 'order'; apply HitFeatures and HierarchicalRasterScan first"),
    # Backbone, objective and heads.
    Case("backbone_headdim_not_dividing", lambda _: FM4NPPBackbone(d_model=16, headdim=48), ValueError,
         r"d_inner = expand \* d_model = 2 \* 16 = 32 is not divisible by headdim=48"),
    Case("backbone_without_blocks", lambda _: FM4NPPBackbone(n_layer=0), ValueError,
         r"Expected a positive 'n_layer', got 0"),
    Case("backbone_without_order", backbone_on(x=torch.rand(3, 4)), ValueError,
         r"Input batch is missing \['order'\]. Apply HitFeatures and HierarchicalRasterScan"),
    Case("backbone_order_repeats_hit", backbone_on(x=torch.rand(3, 4), order=torch.tensor([0, 0, 1])),
         ValueError, r"Expected 'order' to be a permutation of each event's hits, found repeated indices"),
    Case("backbone_wrong_feature_count", backbone_on(x=torch.rand(3, 5), order=torch.arange(3)), ValueError,
         r"Expected hit features of shape \(batch, L, 4\), got \(1, 3, 5\)"),
    Case("knnn_loss_other_k", knnn_loss_with_other_k, ValueError,
         r"targets were computed for k=4 but the objective uses k=3"),
    Case("decoder_heads_not_dividing", lambda _: QueryTrackDecoder(16, hidden_channels=30, heads=4), ValueError,
         r"Expected hidden_channels divisible by heads, got 30 and 4"),
    Case("classifier_one_class", lambda _: PointClassifier(1, 16, num_classes=1), ValueError,
         r"Expected num_classes >= 2, got 1"),
    # Adapters and baselines.
    Case("adapter_unknown_target", lambda _: HitClassifier(target="charge"), ValueError,
         r"Expected target to be one of \['noise_label', 'pid_label'\], got 'charge'"),
    Case("adapter_zero_steps", lambda _: QueryTracker(steps=0), ValueError,
         r"Expected positive steps and batch_size, got 0 and 8"),
    Case("adapter_predict_before_fit", lambda _: QueryTracker().predict(tpc_event()), RuntimeError,
         r"QueryTracker.predict called before fit"),
    Case("adapter_missing_checkpoint", lambda _: QueryTracker(backbone_checkpoint="/nonexistent/backbone.pt").fit(
        [tpc_event()]), FileNotFoundError, r"Backbone checkpoint not found: /nonexistent/backbone.pt; run "
                                           r"pretraining first"),
    Case("exatrkx_unknown_aggregation", exatrkx(gnn_aggregation="median"), ValueError,
         r"Expected 'gnn_aggregation' in \('sum', 'mean', 'max'\), got 'median'"),
    Case("exatrkx_negative_radius", exatrkx(radius=-1.0), ValueError, r"radius",
         xfail="ExaTrkXConfig accepts radius=-1.0, so the embedding graph has no edges and every hit becomes "
               "its own track without any error"),
    Case("gnn_unknown_target", gnn_classifier(target="charge"), ValueError,
         r"Expected 'target' in \['noise_label', 'pid_label'\], got 'charge'"),
    # Metrics.
    Case("ari_length_mismatch", lambda _: adjusted_rand_index(torch.tensor([0, 1]), torch.tensor([1, 1, 2])),
         ValueError, r"'track_id' has 2 hits but 'particle_id' has 3; pass one predicted label per truth hit"),
    Case("efficiency_label_below_unassigned", lambda _: fm4npp_efficiency_purity(
        torch.tensor([0, 0, 0, -2]), torch.tensor([1, 1, 1, 0])), ValueError,
         r"predicted track label -2 is negative; labels must be >= 0, or declare the marker"),
    Case("evaluator_negative_truth", lambda _: evaluate(
        Data(pos=torch.ones(3, 3), particle_id=torch.tensor([-1, 1, 1]), particle_pt=torch.ones(3)),
        torch.tensor([0, 1, 1])), ValueError, r"truth 'particle_id' must be >= 0 \(0 for noise\), got -1"),
    Case("evaluator_event_without_pos", lambda _: evaluate(
        Data(particle_id=torch.tensor([1, 1, 2]), particle_pt=torch.ones(3), num_nodes=3), torch.tensor([0, 0, 1])),
         ValueError, r"'pos'",
         xfail="TrackingEvaluator.update_event on an event without 'pos' raises numpy's AxisError 'axis 1 is out "
               "of bounds for array of dimension 0' instead of an error that names 'pos'"),
    Case("classes_out_of_range", lambda _: classify([7, 0], [0, 0]), ValueError,
         r"'pred' contains class 7, expected classes 0..4"),
    Case("classes_length_mismatch", lambda _: classify([0], [0, 0]), ValueError,
         r"'pred' has 1 hits but 'target' has 2"),
    Case("evaluator_perfect_prediction", lambda _: evaluate(tpc_event(), tpc_event().particle_id),
         check=lambda result: result["ari"] == 1.0 and result["num_hits"] == 6),
    # Data settings and the training loop.
    Case("simulation_negative_noise", lambda _: SimulationConfig(noise_rate=-1.0), ValueError,
         r"Expected a non-negative 'noise_rate', got -1.0"),
    Case("gun_unknown_species", lambda _: ParticleGun(species=(999, )), ValueError,
         r"Expected species among the PDG codes \[11, 13, 211, 321, 2212\] or their negatives, got \[999\]"),
    Case("geometry_inverted_radii", lambda _: TPCGeometry(min_radius=80.0), ValueError,
         r"Expected 0 < min_radius < max_radius, got min_radius=80.0 and max_radius=75.4"),
    Case("dataset_without_events", lambda tmp_path: TPCSimDataset(str(tmp_path), num_events=0), ValueError,
         r"Expected a positive num_events, got 0"),
    Case("validate_unknown_action", lambda _: validate_event(tpc_event(), out_of_volume="clip"), ValueError,
         r"Expected out_of_volume to be one of \('raise', 'drop'\), got 'clip'"),
    Case("trainer_resume_without_folder", lambda _: TrainerConfig(resume=True), ValueError,
         r"resume=True needs a checkpoint_dir to resume from"),
]


@pytest.mark.parametrize("case", helpers["params"](CASES))
def test_bad_model_input(case, tmp_path):
    helpers["run_case"](case, tmp_path)
