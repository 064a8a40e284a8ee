import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.transforms import HierarchicalRasterScan


def hit(r: float, phi: float, eta: float) -> list[float]:
    return [r * math.cos(phi), r * math.sin(phi), r * math.sinh(eta)]


def two_by_two_scan(**kwargs) -> HierarchicalRasterScan:
    # Boxes: r < 50 or >= 50; phi < 0 or >= 0; one eta bin.
    return HierarchicalRasterScan(r_edges=[50.0], phi_edges=[0.0], eta_edges=[], **kwargs)


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


def test_batch_equals_per_event():
    torch.manual_seed(0)
    events = [Data(pos=torch.randn(n, 3) * 30 + torch.tensor([40.0, 0, 0])) for n in (7, 1, 12)]
    scan = HierarchicalRasterScan.fit(events, group_edges=(40.0,), phi_bins=3, eta_bins=2)
    batch = scan(Batch.from_data_list([e.clone() for e in events]))
    expected = torch.cat([scan(e.clone()).order for e in events])
    assert torch.equal(batch.order, expected)


def test_fit_invariants():
    torch.manual_seed(1)
    r = torch.rand(2000) * 44 + 31.4
    phi = (torch.rand(2000) * 2 - 1) * math.pi
    z = (torch.rand(2000) * 2 - 1) * 100
    pos = torch.stack([r * phi.cos(), r * phi.sin(), z], dim=-1)
    scan = HierarchicalRasterScan.fit([Data(pos=pos)])
    assert scan.num_boxes == 6 * 8 * 8
    assert scan.r_edges.numel() == 5
    assert scan.r_edges[1].item() == 40.0
    assert scan.r_edges[3].item() == 57.0

    data = scan(Data(pos=pos))
    assert torch.equal(data.order.sort().values, torch.arange(2000))
    box = scan.box_index(pos)[data.order]
    assert bool((box[1:] >= box[:-1]).all())
    radius = r[data.order]
    same_box = box[1:] == box[:-1]
    assert bool((radius[1:][same_box] >= radius[:-1][same_box]).all())


def test_round_trip_dict():
    scan = HierarchicalRasterScan(r_edges=[35.0, 40.0], phi_edges=[0.0], eta_edges=[-0.5, 0.5])
    again = HierarchicalRasterScan.from_dict(scan.to_dict())
    assert torch.equal(again.r_edges, scan.r_edges)
    assert again.axis_order == scan.axis_order


def test_bad_axis_order_rejected():
    with pytest.raises(ValueError, match="axis_order must be a permutation"):
        HierarchicalRasterScan([1.0], [0.0], [0.0], axis_order=("r", "r", "eta"))


def test_decreasing_edges_rejected():
    with pytest.raises(ValueError, match="r_edges must be non-decreasing"):
        HierarchicalRasterScan([50.0, 40.0], [0.0], [0.0])


def test_empty_event():
    data = two_by_two_scan()(Data(pos=torch.zeros(0, 3)))
    assert data.order.tolist() == []
