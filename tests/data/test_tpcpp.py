import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.tpcpp import (
    TPCppLayout,
    find_shards,
    layer_from_radius,
    read_tpcpp_file,
)
from fm4npp_geo.data.tpcpp_dataset import TPCppDataset
from fm4npp_geo.data.tpcpp_writer import write_tpcpp


def make_event(num_hits, shift=0.0):
    # Hits spread over the TPC radii with a truth particle, a PID class and a
    # noise tag each. Particle 0 is noise.
    angle = torch.linspace(0.0, 3.0, num_hits)
    radius = torch.linspace(32.0, 75.0, num_hits)
    pos = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle),
                       torch.linspace(-50.0, 50.0, num_hits) + shift], dim=1)
    particle_id = torch.tensor([0, 9, 9, 4, 4, 4, 12][:num_hits])
    return Data(
        pos=pos,
        energy=torch.arange(num_hits, dtype=torch.float32) * 10.0 + shift,
        particle_id=particle_id,
        pid_label=torch.tensor([0, 1, 1, 3, 3, 3, 4][:num_hits]),
        noise_label=particle_id == 0,
    )


EVENTS = [make_event(7), make_event(3, 1.5), make_event(5, -2.0)]


def check_same_event(read, written):
    assert torch.equal(read.pos, written.pos)
    assert torch.equal(read.energy, written.energy)
    assert torch.equal(read.track_id, written.particle_id)
    assert torch.equal(read.pid_label, written.pid_label)
    assert torch.equal(read.noise_label, written.noise_label)


def test_round_trip_across_files(tmp_path):
    paths = write_tpcpp(EVENTS, tmp_path, events_per_file=2)
    dataset = TPCppDataset(tmp_path)

    assert [path.name for path in paths] == ['spacepoints_000.npz',
                                             'spacepoints_001.npz']
    assert dataset.files == paths
    assert len(dataset) == 3
    for read, written in zip(dataset, EVENTS):
        check_same_event(read, written)
    assert dataset[-1].num_nodes == 5


def test_particle_ids_numbered_per_event(tmp_path):
    write_tpcpp(EVENTS, tmp_path)
    event = TPCppDataset(tmp_path)[0]

    # Track ids [0, 9, 9, 4, 4, 4, 12]: 0 is noise, and 4 < 9 < 12 become
    # 1, 2 and 3.
    assert event.track_id.tolist() == [0, 9, 9, 4, 4, 4, 12]
    assert event.particle_id.tolist() == [0, 2, 2, 1, 1, 1, 3]


def test_no_noise_track_id(tmp_path):
    write_tpcpp(EVENTS, tmp_path)
    event = TPCppDataset(tmp_path, noise_track_id=None)[0]

    assert event.particle_id.tolist() == [1, 3, 3, 2, 2, 2, 4]


def test_round_trip_folder_layout(tmp_path):
    write_tpcpp(EVENTS, tmp_path, events_per_file=2, folders=True)
    dataset = TPCppDataset(tmp_path)

    assert (tmp_path / 'track_ids' / '001.npz').is_file()
    assert list(find_shards(tmp_path, 'spacepoints')) == ['000', '001']
    assert len(dataset) == 3
    for read, written in zip(dataset, EVENTS):
        check_same_event(read, written)


def test_custom_names_and_keys(tmp_path):
    layout = TPCppLayout(pid_labels='particle_ids', points_key='hits',
                         sizes_key='n', label_key='labels')
    write_tpcpp(EVENTS, tmp_path, layout=layout)

    with np.load(tmp_path / 'particle_ids_000.npz') as archive:
        assert archive.files == ['labels']
    for read, written in zip(TPCppDataset(tmp_path, layout=layout), EVENTS):
        check_same_event(read, written)


def test_unlabeled_split(tmp_path):
    events = [Data(pos=event.pos, energy=event.energy) for event in EVENTS]
    write_tpcpp(events, tmp_path)
    event = TPCppDataset(tmp_path)[1]

    assert sorted(event.keys()) == ['energy', 'layer', 'num_nodes', 'pos']
    assert torch.equal(event.pos, EVENTS[1].pos)


def test_single_file_split(tmp_path):
    # The layout of a small published split: one archive per component.
    points = np.array([[100.0, 31.4, 0.0, 1.0], [200.0, 0.0, 75.4, -1.0],
                       [300.0, -40.0, 0.0, 0.0]], dtype=np.float32)
    np.savez(tmp_path / 'spacepoints.npz', data=points, size=[2, 1])
    np.savez(tmp_path / 'noise_tags.npz', data=np.array([True, False, True]))
    events = TPCppDataset(tmp_path)

    assert len(events) == 2
    assert events[0].energy.tolist() == [100.0, 200.0]
    assert events[0].layer.tolist() == [0, 47]
    assert events[1].pos.tolist() == [[-40.0, 0.0, 0.0]]
    assert events[1].noise_label.tolist() == [True]
    assert 'particle_id' not in events[0]
    assert 'pid_label' not in events[0]


def test_read_one_file(tmp_path):
    write_tpcpp(EVENTS, tmp_path, events_per_file=2)
    events = read_tpcpp_file(tmp_path / 'spacepoints_001.npz',
                             track_ids=tmp_path / 'track_ids_001.npz')

    assert len(events) == 1
    assert torch.equal(events[0].pos, EVENTS[2].pos)
    assert torch.equal(events[0].track_id, EVENTS[2].particle_id)
    assert 'pid_label' not in events[0]


def test_layer_from_radius():
    geometry = TPCGeometry()
    centres = geometry.layer_radii
    upper_edges = centres + 0.5 * geometry.row_thickness

    assert layer_from_radius(centres).tolist() == list(range(48))
    assert layer_from_radius(upper_edges[:-1] - 1e-6).tolist() == list(
        range(47))
    assert layer_from_radius(np.array([10.0, 40.0, 57.0, 90.0])).tolist() == [
        0, 16, 32, 47]


def test_cached_shards_stay_correct(tmp_path):
    write_tpcpp(EVENTS, tmp_path, events_per_file=1)
    dataset = TPCppDataset(tmp_path, cache_size=1)

    first = dataset[0]
    first.pos.add_(1000.0)
    for index in (2, 0, 1, 0):
        check_same_event(dataset[index], EVENTS[index])


def test_transforms_applied(tmp_path):
    write_tpcpp(EVENTS, tmp_path)

    def double_energy(data):
        data.energy = data.energy * 2
        return data

    def count_hits(data):
        data.count = data.num_nodes
        return data

    dataset = TPCppDataset(tmp_path, transform=count_hits,
                           pre_transform=double_energy)

    assert torch.equal(dataset[1].energy, EVENTS[1].energy * 2)
    assert dataset[1].count == 3


def write_points(path, points, size):
    np.savez(path, data=np.asarray(points, dtype=np.float32), size=size)


def test_sizes_not_matching_rows(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((5, 4)), [2, 2])

    with pytest.raises(ValueError, match=r"'data' in '.*spacepoints.npz' has "
                       r"5 rows but 'size' adds up to 4"):
        TPCppDataset(tmp_path)


def test_nan_coordinate_rejected(tmp_path):
    points = np.full((3, 4), 40.0)
    points[1, 2] = np.nan
    write_points(tmp_path / 'spacepoints.npz', points, [3])
    dataset = TPCppDataset(tmp_path)

    with pytest.raises(ValueError, match=r"'data' in '.*spacepoints.npz' "
                       r"contains nan in column 'y' of row 1"):
        dataset[0]


def test_missing_key_named(tmp_path):
    np.savez(tmp_path / 'spacepoints.npz', data=np.ones((2, 4)))

    with pytest.raises(ValueError, match=r"'.*spacepoints.npz' has no key "
                       r"'size'; found \['data'\]"):
        TPCppDataset(tmp_path)


def test_wrong_column_count(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((2, 3)), [2])

    with pytest.raises(ValueError, match=r"'data' in '.*spacepoints.npz' "
                       r"must have shape \[total_hits, 4\]"):
        TPCppDataset(tmp_path)


def test_truncated_archive(tmp_path):
    write_tpcpp(EVENTS, tmp_path, events_per_file=2)
    path = tmp_path / 'spacepoints_001.npz'
    path.write_bytes(path.read_bytes()[:40])

    with pytest.raises(ValueError, match=r"Failed to open "
                       r"'.*spacepoints_001.npz' as a .npz archive"):
        TPCppDataset(tmp_path)


def test_corrupt_array_data(tmp_path):
    write_tpcpp(EVENTS, tmp_path)
    path = tmp_path / 'track_ids_000.npz'
    content = bytearray(path.read_bytes())
    # Flip bytes inside the compressed array, past the local file header.
    for offset in range(60, 70):
        content[offset] ^= 0xFF
    path.write_bytes(bytes(content))

    with pytest.raises(ValueError, match=r"'data' in '.*track_ids_000.npz'"
                       r".*corrupt"):
        TPCppDataset(tmp_path)[0]


def test_label_length_mismatch(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((4, 4)), [4])
    np.savez(tmp_path / 'track_ids.npz', data=np.array([1, 2, 3]))

    with pytest.raises(ValueError, match=r"'data' in '.*track_ids.npz' has "
                       r"shape \[3\], expected \[4\]: one track_ids entry"):
        TPCppDataset(tmp_path)


def test_label_shard_missing(tmp_path):
    write_tpcpp(EVENTS, tmp_path, events_per_file=2)
    (tmp_path / 'pid_labels_001.npz').unlink()

    with pytest.raises(ValueError, match=r"'.*spacepoints_001.npz' has no "
                       r"matching 'pid_labels' archive"):
        TPCppDataset(tmp_path)


def test_pid_class_out_of_range(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((2, 4)), [2])
    np.savez(tmp_path / 'pid_labels.npz', data=np.array([1, 7]))

    with pytest.raises(ValueError, match=r"'data' in '.*pid_labels.npz' "
                       r"contains 7 in row 1; expected a PID class"):
        TPCppDataset(tmp_path)[0]


def test_float_labels_rejected(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((2, 4)), [2])
    np.savez(tmp_path / 'track_ids.npz', data=np.array([1.0, 2.0]))

    with pytest.raises(ValueError, match=r"'data' in '.*track_ids.npz' must "
                       r"hold integers or booleans, got dtype float64"):
        TPCppDataset(tmp_path)


def test_two_layouts_rejected(tmp_path):
    write_points(tmp_path / 'spacepoints.npz', np.ones((2, 4)), [2])
    write_points(tmp_path / 'spacepoints_000.npz', np.ones((2, 4)), [2])

    with pytest.raises(ValueError, match="stores 'spacepoints' in more than "
                       "one layout"):
        TPCppDataset(tmp_path)


def test_empty_folder_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="No TPCpp spacepoint "
                       "archives"):
        TPCppDataset(tmp_path)


def test_writer_keeps_existing_files(tmp_path):
    write_tpcpp(EVENTS[:1], tmp_path)
    before = (tmp_path / 'spacepoints_000.npz').read_bytes()

    with pytest.raises(FileExistsError, match='spacepoints_000.npz'):
        write_tpcpp(EVENTS, tmp_path)
    assert (tmp_path / 'spacepoints_000.npz').read_bytes() == before


def test_writer_rejects_partial_labels(tmp_path):
    events = [EVENTS[0], Data(pos=EVENTS[1].pos, energy=EVENTS[1].energy)]

    with pytest.raises(ValueError, match="Event 1 has no 'particle_id'"):
        write_tpcpp(events, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_writer_checks_every_event_first(tmp_path):
    bad = make_event(3)
    bad.pid_label = torch.tensor([0, 1])

    with pytest.raises(ValueError, match=r"Event 2: expected 'pid_label' of "
                       r"shape \[3\], got \[2\]"):
        write_tpcpp([EVENTS[0], EVENTS[1], bad], tmp_path, events_per_file=1)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_nan(tmp_path):
    bad = make_event(3)
    bad.pos[0, 0] = float('nan')

    with pytest.raises(ValueError, match="Event 0: 'pos' or 'energy' contains "
                       "a non-finite value"):
        write_tpcpp([bad], tmp_path)


def test_layout_names_distinct():
    with pytest.raises(ValueError, match='four distinct component names'):
        TPCppLayout(track_ids='spacepoints')
