import numpy as np
import pytest

from fm4npp_geo.data import TPCGeometry


def test_default_layer_radii():
    geometry = TPCGeometry()
    radii = geometry.layer_radii

    assert geometry.num_layers == 48
    assert radii.shape == (48, )
    assert np.all(np.diff(radii) > 0)
    assert radii[0] == pytest.approx(31.4)
    assert radii[-1] == pytest.approx(75.4)
    assert np.all((radii >= 31.4 - 1e-9) & (radii <= 75.4 + 1e-9))


def test_default_groups_split_at_40_and_57():
    geometry = TPCGeometry()
    radii = geometry.layer_radii

    assert np.sum(radii < 40.0) == 16
    assert np.sum((radii > 40.0) & (radii < 57.0)) == 16
    assert np.sum(radii > 57.0) == 16
    assert np.bincount(geometry.layer_group).tolist() == [16, 16, 16]
    assert geometry.group_edges[1:3].tolist() == [40.0, 57.0]


def test_rows_tile_each_group():
    geometry = TPCGeometry()
    radii, thickness = geometry.layer_radii, geometry.row_thickness
    inner_edges = radii - 0.5 * thickness
    outer_edges = radii + 0.5 * thickness

    # Neighbouring rows share an edge, and the group boundaries are edges.
    assert np.allclose(outer_edges[:-1], inner_edges[1:])
    assert outer_edges[15] == pytest.approx(40.0)
    assert outer_edges[31] == pytest.approx(57.0)
    assert thickness[0] == pytest.approx(8.6 / 15.5)
    assert thickness[16] == pytest.approx(17.0 / 16)
    assert thickness[47] == pytest.approx(18.4 / 15.5)
    assert geometry.group_edges[0] == pytest.approx(inner_edges[0])
    assert geometry.group_edges[-1] == pytest.approx(outer_edges[-1])


def test_single_group_is_evenly_spaced():
    geometry = TPCGeometry(min_radius=10.0, max_radius=20.0,
                           group_boundaries=(), rows_per_group=(3, ))

    assert geometry.layer_radii.tolist() == [10.0, 15.0, 20.0]
    assert geometry.row_thickness.tolist() == [5.0, 5.0, 5.0]


def test_layer_radii_are_read_only():
    geometry = TPCGeometry()
    with pytest.raises(ValueError, match='read-only'):
        geometry.layer_radii[0] = 0.0


def test_geometry_is_hashable_and_equal():
    assert TPCGeometry() == TPCGeometry(group_boundaries=[40, 57])
    assert hash(TPCGeometry()) == hash(TPCGeometry())


@pytest.mark.parametrize('kwargs, message', [
    (dict(min_radius=80.0), 'min_radius < max_radius'),
    (dict(group_boundaries=(57.0, 40.0)), 'strictly increasing'),
    (dict(group_boundaries=(20.0, 57.0)), 'strictly increasing'),
    (dict(rows_per_group=(16, 16)), 'one more entry'),
    (dict(rows_per_group=(16, 0, 16)), 'at least one row'),
    (dict(group_boundaries=(), rows_per_group=(1, )), 'at least two rows'),
    (dict(z_max=0.0), 'z_max > 0'),
    (dict(magnetic_field=-1.4), 'positive magnetic_field'),
])
def test_invalid_geometry(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TPCGeometry(**kwargs)
