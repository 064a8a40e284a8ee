import json
import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.transforms import HierarchicalRasterScan, cylindrical


def hit(r: float, phi: float, eta: float) -> list[float]:
    return [r * math.cos(phi), r * math.sin(phi), r * math.sinh(eta)]


def two_by_two_scan(**kwargs) -> HierarchicalRasterScan:
    # Boxes: r < 50 or >= 50; phi < 0 or >= 0; one eta bin.
    return HierarchicalRasterScan(r_edges=[50.0], phi_edges=[0.0], eta_edges=[], **kwargs)


def random_hits(num_hits: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    r = torch.rand(num_hits, generator=generator) * 44 + 31.4
    phi = (torch.rand(num_hits, generator=generator) * 2 - 1) * math.pi
    z = (torch.rand(num_hits, generator=generator) * 2 - 1) * 100
    return torch.stack([r * phi.cos(), r * phi.sin(), z], dim=-1)


def test_hand_built_order():
    pos = torch.tensor(
        [
            hit(60.0, 1.0, 0.0),   # 0: outer, phi >= 0 -> box 3
            hit(35.0, 1.0, 0.0),   # 1: inner, phi >= 0 -> box 1
            hit(40.0, -1.0, 0.0),  # 2: inner, phi < 0  -> box 0
            hit(33.0, 2.0, 0.0),   # 3: inner, phi >= 0 -> box 1, smaller r than 1
            hit(55.0, -2.0, 0.0),  # 4: outer, phi < 0  -> box 2
        ]
    )
    data = two_by_two_scan()(Data(pos=pos))
    assert data.order.tolist() == [2, 3, 1, 4, 0]


def test_axis_order_phi_first():
    pos = torch.tensor([hit(60.0, 1.0, 0.0), hit(35.0, 1.0, 0.0), hit(40.0, -1.0, 0.0), hit(55.0, -2.0, 0.0)])
    data = two_by_two_scan(axis_order=("phi", "r", "eta"))(Data(pos=pos))
    # phi < 0 first (r 40 then 55), then phi >= 0 (r 35 then 60).
    assert data.order.tolist() == [2, 3, 1, 0]


def test_eta_major_axis_order():
    scan = HierarchicalRasterScan(r_edges=[50.0], phi_edges=[], eta_edges=[0.0], axis_order=("eta", "r", "phi"))
    pos = torch.tensor([hit(60.0, 0.0, 0.5), hit(35.0, 0.0, 0.5), hit(60.0, 0.0, -0.5), hit(35.0, 0.0, -0.5)])
    assert scan(Data(pos=pos)).order.tolist() == [3, 2, 1, 0]


def test_equal_radius_keeps_input_order():
    # Exactly equal radii, in one box.
    pos = torch.tensor([[0.0, 40.0, 1.0], [40.0, 0.0, 2.0], [0.0, 40.0, 3.0]])
    scan = HierarchicalRasterScan(r_edges=[], phi_edges=[], eta_edges=[])
    assert scan(Data(pos=pos)).order.tolist() == [0, 1, 2]


def test_value_on_edge_goes_to_upper_bin():
    scan = HierarchicalRasterScan(r_edges=[40.0], phi_edges=[], eta_edges=[])
    pos = torch.tensor([[40.0, 0.0, 0.0], [39.0, 0.0, 0.0], [45.0, 0.0, 0.0]])
    assert scan.box_index(pos).tolist() == [1, 0, 1]


def test_batch_equals_per_event():
    events = [Data(pos=random_hits(n, seed)) for seed, n in enumerate((7, 1, 12, 0, 30))]
    scan = HierarchicalRasterScan.fit(events, group_edges=(40.0,), phi_bins=3, eta_bins=2)
    batch = scan(Batch.from_data_list([e.clone() for e in events]))
    expected = torch.cat([scan(e.clone()).order for e in events])
    assert torch.equal(batch.order, expected)


def test_fit_invariants():
    pos = random_hits(2000, seed=1)
    scan = HierarchicalRasterScan.fit([Data(pos=pos[:1000]), Data(pos=pos[1000:])])
    assert scan.num_boxes == 6 * 8 * 8
    assert scan.r_edges.numel() == 5
    assert scan.r_edges[1].item() == 40.0
    assert scan.r_edges[3].item() == 57.0
    r, phi, eta = cylindrical(pos)
    # Equal-count quantiles: each phi bin contains an eighth of the hits.
    counts = torch.bincount(torch.bucketize(phi, scan.phi_edges, right=True), minlength=8)
    assert counts.min().item() >= 249
    assert counts.max().item() <= 251

    data = scan(Data(pos=pos))
    assert torch.equal(data.order.sort().values, torch.arange(2000))
    box = scan.box_index(pos)[data.order]
    assert bool((box[1:] >= box[:-1]).all())
    radius = r[data.order]
    same_box = box[1:] == box[:-1]
    assert bool((radius[1:][same_box] >= radius[:-1][same_box]).all())


@pytest.mark.parametrize("axis_order", [("r", "phi", "eta"), ("phi", "eta", "r"), ("eta", "r", "phi")])
def test_box_sequence_follows_axis_order(axis_order):
    pos = random_hits(500, seed=2)
    scan = HierarchicalRasterScan.fit([Data(pos=pos)], axis_order=axis_order)
    order = scan(Data(pos=pos)).order
    r, phi, eta = cylindrical(pos[order])
    bins = {
        "r": torch.bucketize(r, scan.r_edges, right=True),
        "phi": torch.bucketize(phi, scan.phi_edges, right=True),
        "eta": torch.bucketize(eta, scan.eta_edges, right=True),
    }
    # The (slowest, middle, fastest) bin tuples must be sorted lexicographically.
    tuples = list(zip(*(bins[axis].tolist() for axis in axis_order)))
    assert tuples == sorted(tuples)


def test_fit_with_other_bin_counts():
    pos = random_hits(900, seed=3)
    scan = HierarchicalRasterScan.fit([Data(pos=pos)], group_edges=(50.0,), r_bins_per_group=3, phi_bins=4, eta_bins=2)
    assert scan.r_edges.numel() == 5
    assert scan.r_edges[2].item() == 50.0
    assert scan.phi_edges.numel() == 3
    assert scan.eta_edges.numel() == 1
    assert scan.num_boxes == 6 * 4 * 2


def test_json_round_trip(tmp_path):
    scan = HierarchicalRasterScan.fit([Data(pos=random_hits(300, seed=4))], axis_order=("phi", "r", "eta"))
    path = scan.save(tmp_path / "scan.json")
    values = json.loads(path.read_text())
    assert set(values) == {"r_edges", "phi_edges", "eta_edges", "axis_order"}
    again = HierarchicalRasterScan.load(path)
    for name in ("r_edges", "phi_edges", "eta_edges"):
        assert torch.equal(getattr(again, name), getattr(scan, name))
    assert again.axis_order == ("phi", "r", "eta")


def test_load_rejects_bad_files(tmp_path):
    path = tmp_path / "scan.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        HierarchicalRasterScan.load(path)
    path.write_text(json.dumps({"r_edges": [1.0]}))
    with pytest.raises(ValueError, match="need the keys"):
        HierarchicalRasterScan.load(path)


def test_bad_axis_order_rejected():
    with pytest.raises(ValueError, match="axis_order must be a permutation"):
        HierarchicalRasterScan([1.0], [0.0], [0.0], axis_order=("r", "r", "eta"))


def test_decreasing_edges_rejected():
    with pytest.raises(ValueError, match="r_edges must be non-decreasing"):
        HierarchicalRasterScan([50.0, 40.0], [0.0], [0.0])


def test_fit_errors():
    with pytest.raises(ValueError, match="needs events with hits"):
        HierarchicalRasterScan.fit([Data(pos=torch.zeros(0, 3))])
    with pytest.raises(ValueError, match="phi_bins must be a whole number >= 1, got 0"):
        HierarchicalRasterScan.fit([Data(pos=random_hits(10, 0))], phi_bins=0)
    with pytest.raises(ValueError, match="group_edges must be strictly increasing"):
        HierarchicalRasterScan.fit([Data(pos=random_hits(10, 0))], group_edges=(57.0, 40.0))
    with pytest.raises(ValueError, match=r"no hits with 80.0 <= r < inf cm"):
        HierarchicalRasterScan.fit([Data(pos=random_hits(10, 0))], group_edges=(40.0, 80.0))


def test_bad_positions_rejected():
    scan = two_by_two_scan()
    with pytest.raises(ValueError, match="needs 'pos'"):
        scan(Data(x=torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"shape \[num_hits, 3\], got \(2, 2\)"):
        scan(Data(pos=torch.zeros(2, 2)))
    with pytest.raises(ValueError, match="finite hit positions"):
        scan(Data(pos=torch.tensor([[1.0, float("nan"), 0.0]])))


def test_empty_event():
    data = two_by_two_scan()(Data(pos=torch.zeros(0, 3)))
    assert data.order.tolist() == []


def test_other_attributes_untouched():
    pos = random_hits(20, seed=5)
    data = Data(pos=pos.clone(), energy=torch.arange(20.0), layer=torch.arange(20))
    out = two_by_two_scan()(data)
    assert set(out.keys()) == {"pos", "energy", "layer", "order"}
    assert torch.equal(out.pos, pos)
    assert torch.equal(out.energy, torch.arange(20.0))


def test_eta_bin_exact_at_edge():
    scan = HierarchicalRasterScan(r_edges=[], phi_edges=[], eta_edges=[0.5])
    threshold = torch.tensor(math.sinh(0.5), dtype=torch.float32)
    if threshold.double() < math.sinh(0.5):
        threshold = torch.nextafter(threshold, torch.tensor(float("inf")))
    below = torch.nextafter(threshold, torch.tensor(float("-inf")))
    # r = 1 cm exactly, so z / r is z: the float32 values on both sides of sinh(0.5).
    pos = torch.tensor([[1.0, 0.0, below.item()], [1.0, 0.0, threshold.item()]])
    assert math.asinh(below.item()) < 0.5 <= math.asinh(threshold.item())
    assert scan.box_index(pos).tolist() == [0, 1]
