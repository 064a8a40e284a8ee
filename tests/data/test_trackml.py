import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data import (
    SimulationConfig,
    read_trackml_event,
    simulate_events,
)
from fm4npp_geo.data.trackml import TRACKML_LAYERS
from fm4npp_geo.data.trackml_dataset import TrackMLDataset, find_trackml_events
from fm4npp_geo.data.trackml_submission import (
    read_trackml_submission,
    submission_track_ids,
    write_trackml_submission,
)
from fm4npp_geo.data.trackml_writer import write_trackml_event

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / '..' / 'shared' / 'data' / 'trackml'
EVENT = DATA_DIR / 'event000000001'

needs_event = pytest.mark.skipif(
    not (DATA_DIR / 'event000000001-hits.csv.gz').is_file(),
    reason=f'TrackML sample event not found in {DATA_DIR}')


@needs_event
def test_sample_event_counts():
    data = read_trackml_event(EVENT)

    assert data.num_nodes == 5527
    assert int((data.particle_id == 0).sum()) == 829
    assert data.particle_id.dtype == torch.int64
    assert data.hit_id.dtype == torch.int64
    assert data.layer.unique().numel() == len(TRACKML_LAYERS) == 48
    assert torch.all(data.noise_label[data.particle_id == 0])
    assert torch.all(data.particle_pt[data.particle_id == 0] == 0)
    assert torch.all(data.energy > 0)
    assert data.weight.sum().item() == pytest.approx(0.05, abs=0.01)


@needs_event
def test_sample_event_first_hit():
    # First rows of the hits and truth files: hit 6 at (-76.566, -11.3673,
    # -1502.5) mm in volume 7, layer 2, belonging to particle
    # 27028813309280256. Its only cell has value 0.295811.
    data = read_trackml_event(str(EVENT))

    assert data.hit_id[0].item() == 6
    assert data.pos[0].tolist() == pytest.approx([-7.6566, -1.13673, -150.25])
    assert data.layer[0].item() == 0
    assert data.particle_id[0].item() == 27028813309280256
    assert data.energy[0].item() == pytest.approx(0.295811)
    assert data.hit_id[1].item() == 9
    assert data.particle_id[1].item() == 0


def write_event(prefix, hits=None, truth=None):
    files = {
        'hits': hits or 'hit_id,x,y,z,volume_id,layer_id,module_id\n'
        '1,10.0,0.0,5.0,8,2,1\n2,0.0,20.0,-5.0,8,4,1\n',
        'cells': 'hit_id,ch0,ch1,value\n1,0,0,0.5\n1,0,1,0.25\n',
        'particles': 'particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n'
        '4503599627370496,-2212,0,0,0,0.03,0.04,0.0,-1,1\n',
        'truth': truth or 'hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n'
        '1,4503599627370496,0,0,0,0,0,0,0.5\n2,0,0,0,0,0,0,0,0\n',
    }
    for kind, text in files.items():
        path = Path(f'{prefix}-{kind}.csv')
        path.write_text(text)


def test_tiny_event_exact_values(tmp_path):
    prefix = tmp_path / 'event1'
    write_event(prefix)
    data = read_trackml_event(prefix)

    assert data.pos.tolist() == [[1.0, 0.0, 0.5], [0.0, 2.0, -0.5]]
    assert data.energy.tolist() == [0.75, 0.0]
    # (8, 2) and (8, 4) follow the seven layers of volume 7.
    assert data.layer.tolist() == [7, 8]
    assert data.particle_id.tolist() == [4503599627370496, 0]
    assert data.particle_pt.tolist() == pytest.approx([0.05, 0.0])
    assert data.pid_label.tolist() == [3, 0]
    # The proton has pT = 0.05 GeV < 0.06 GeV, so its hit counts as noise.
    assert data.noise_label.tolist() == [True, True]
    assert data.weight.tolist() == [0.5, 0.0]


def test_gzip_files_accepted(tmp_path):
    prefix = tmp_path / 'event2'
    write_event(prefix)
    hits = Path(f'{prefix}-hits.csv')
    with gzip.open(f'{prefix}-hits.csv.gz', 'wt') as file:
        file.write(hits.read_text())
    hits.unlink()

    assert read_trackml_event(prefix).num_nodes == 2


def test_missing_column_named(tmp_path):
    prefix = tmp_path / 'event3'
    write_event(prefix, truth='hit_id,particle_id,tx\n1,0,0\n2,0,0\n')

    with pytest.raises(ValueError, match=r"truth.csv' has no column\(s\) "
                       r"\['weight'\]"):
        read_trackml_event(prefix)


def test_missing_file_named(tmp_path):
    prefix = tmp_path / 'event4'
    write_event(prefix)
    Path(f'{prefix}-cells.csv').unlink()

    with pytest.raises(FileNotFoundError, match='event4-cells.csv.gz'):
        read_trackml_event(prefix)


def test_unparsable_value_named(tmp_path):
    prefix = tmp_path / 'event5'
    write_event(prefix, hits='hit_id,x,y,z,volume_id,layer_id\n'
                '1,ten,0,0,8,2\n2,0,0,0,8,4\n')

    with pytest.raises(ValueError, match="column 'x'"):
        read_trackml_event(prefix)


def test_unknown_layer_rejected(tmp_path):
    prefix = tmp_path / 'event6'
    write_event(prefix, hits='hit_id,x,y,z,volume_id,layer_id\n'
                '1,0,0,0,8,2\n2,0,0,0,99,2\n')

    with pytest.raises(ValueError, match=r'Unknown \(volume_id, layer_id\)'):
        read_trackml_event(prefix)


def test_truth_missing_hit_rejected(tmp_path):
    prefix = tmp_path / 'event7'
    write_event(prefix, truth='hit_id,particle_id,weight\n1,0,0\n')

    with pytest.raises(ValueError, match='1 hit ids are missing'):
        read_trackml_event(prefix)


def test_truth_extra_hit_rejected(tmp_path):
    prefix = tmp_path / 'event8'
    write_event(prefix, truth='hit_id,particle_id,weight\n1,0,0\n2,0,0\n'
                '3,0,0\n')

    with pytest.raises(ValueError, match=r"Column 'hit_id' of TrackML file "
                       r"'.*event8-truth.csv' contains 1 hit id\(s\) that "
                       r"are not in '.*event8-hits.csv', for example \[3\]"):
        read_trackml_event(prefix)


def test_repeated_hit_id_rejected(tmp_path):
    prefix = tmp_path / 'event9'
    write_event(prefix, hits='hit_id,x,y,z,volume_id,layer_id\n'
                '1,0,0,0,8,2\n1,0,0,0,8,4\n')

    with pytest.raises(ValueError, match=r"Column 'hit_id' of TrackML file "
                       r"'.*event9-hits.csv' repeats 1 value\(s\), for "
                       r"example \[1\]"):
        read_trackml_event(prefix)


def test_cell_of_unknown_hit_rejected(tmp_path):
    prefix = tmp_path / 'event10'
    write_event(prefix)
    Path(f'{prefix}-cells.csv').write_text('hit_id,value\n7,0.5\n')

    with pytest.raises(ValueError, match=r"1 hit ids of cells are missing "
                       r"from column 'hit_id' of '.*event10-hits.csv'"):
        read_trackml_event(prefix)


def test_nan_position_rejected(tmp_path):
    prefix = tmp_path / 'event11'
    write_event(prefix, hits='hit_id,x,y,z,volume_id,layer_id\n'
                '1,0,0,0,8,2\n2,nan,0,0,8,4\n')

    with pytest.raises(ValueError, match=r"Column 'x' of TrackML file "
                       r"'.*event11-hits.csv' contains nan in data row 2"):
        read_trackml_event(prefix)


def test_short_row_rejected(tmp_path):
    # The file ends in the middle of its last row.
    prefix = tmp_path / 'event12'
    write_event(prefix, hits='hit_id,x,y,z,volume_id,layer_id\n'
                '1,0,0,0,8,2\n2,0,1')

    with pytest.raises(ValueError, match=r"TrackML file '.*event12-hits.csv' "
                       r"line 3 has 3 fields and lacks column\(s\) "
                       r"\['z', 'volume_id', 'layer_id'\], expected 6"):
        read_trackml_event(prefix)


def test_truncated_gzip_rejected(tmp_path):
    prefix = tmp_path / 'event13'
    write_event(prefix)
    truth = Path(f'{prefix}-truth.csv')
    compressed = gzip.compress(truth.read_bytes() * 50)
    Path(f'{prefix}-truth.csv.gz').write_bytes(compressed[:-20])
    truth.unlink()

    with pytest.raises(ValueError, match=r"Failed to read TrackML file "
                       r"'.*event13-truth.csv.gz'.*truncated or corrupt"):
        read_trackml_event(prefix)


def make_event():
    # Hit 11 is noise. Particles 5 (a pion) and 8 (a proton) leave two hits
    # each. The proton has pT 0.05 GeV < 0.06 GeV, so its hits count as noise.
    return Data(
        pos=torch.tensor([[31.4, 0.25, -10.0], [40.1, -3.3, 7.7],
                          [-52.125, 12.0, 99.5], [60.0, 60.0, -0.001],
                          [0.5, -75.25, 3.0]]),
        energy=torch.tensor([0.5, 1.25, 3.0, 1e-3, 7.0]),
        layer=torch.tensor([0, 12, 30, 47, 5]),
        particle_id=torch.tensor([5, 5, 0, 8, 8]),
        pid_label=torch.tensor([1, 1, 0, 3, 3]),
        noise_label=torch.tensor([False, False, True, True, True]),
        particle_pt=torch.tensor([1.5, 1.5, 0.0, 0.05, 0.05]),
        particle_eta=torch.tensor([-0.3, -0.3, 0.0, 1.7, 1.7]),
        weight=torch.tensor([0.25, 0.5, 0.0, 0.125, 0.125]),
        hit_id=torch.tensor([3, 4, 11, 20, 21]),
    )


def check_round_trip(read, written):
    for name in ('pos', 'energy', 'layer', 'particle_id', 'pid_label',
                 'noise_label', 'particle_pt', 'weight', 'hit_id'):
        assert torch.equal(read[name], written[name]), name
    assert torch.allclose(read.particle_eta, written.particle_eta, rtol=1e-6,
                          atol=0.0)


@pytest.mark.parametrize('compress', [False, True])
def test_writer_round_trip(tmp_path, compress):
    event = make_event()
    paths = write_trackml_event(event, tmp_path / 'event000000007',
                                compress=compress)

    suffix = '.csv.gz' if compress else '.csv'
    assert [path.name for path in paths] == [
        f'event000000007-{kind}{suffix}'
        for kind in ('hits', 'cells', 'particles', 'truth')]
    check_round_trip(read_trackml_event(tmp_path / 'event000000007'), event)


def test_writer_default_hit_ids(tmp_path):
    event = make_event()
    del event.hit_id
    del event.weight
    write_trackml_event(event, tmp_path / 'event1')
    read = read_trackml_event(tmp_path / 'event1')

    assert read.hit_id.tolist() == [1, 2, 3, 4, 5]
    assert read.weight.tolist() == [0.0] * 5


def test_writer_particles_file(tmp_path):
    write_trackml_event(make_event(), tmp_path / 'event1')
    lines = (tmp_path / 'event1-particles.csv').read_text().splitlines()

    assert lines[0] == 'particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits'
    assert lines[1].startswith('5,211,0.0,0.0,0.0,1.5,0.0,-0.45')
    assert lines[1].endswith(',0,2')
    assert lines[2].startswith('8,2212,')
    assert len(lines) == 3


@needs_event
def test_sample_event_round_trip(tmp_path):
    event = read_trackml_event(EVENT)
    write_trackml_event(event, tmp_path / 'event000000001', compress=True)

    check_round_trip(read_trackml_event(tmp_path / 'event000000001'), event)


def test_writer_keeps_existing_files(tmp_path):
    prefix = tmp_path / 'event1'
    write_trackml_event(make_event(), prefix, compress=True)
    before = Path(f'{prefix}-hits.csv.gz').read_bytes()

    with pytest.raises(FileExistsError, match='event1-hits.csv.gz'):
        write_trackml_event(make_event(), prefix)
    assert Path(f'{prefix}-hits.csv.gz').read_bytes() == before
    assert not Path(f'{prefix}-hits.csv').exists()


def test_writer_missing_attribute(tmp_path):
    event = make_event()
    del event.particle_pt

    with pytest.raises(ValueError,
                       match=r"The event has no \['particle_pt'\]"):
        write_trackml_event(event, tmp_path / 'event1')
    assert list(tmp_path.iterdir()) == []


def test_writer_inconsistent_particle(tmp_path):
    event = make_event()
    event.particle_pt[1] = 2.0

    with pytest.raises(ValueError, match="hits of particle 5 disagree on "
                       "'particle_pt'"):
        write_trackml_event(event, tmp_path / 'event1')
    assert list(tmp_path.iterdir()) == []


def test_writer_layer_out_of_range(tmp_path):
    event = make_event()
    event.layer[0] = 48

    with pytest.raises(ValueError, match=r"'layer' must be in \[0, 48\)"):
        write_trackml_event(event, tmp_path / 'event1')


def test_dataset_over_folder(tmp_path):
    first, second = make_event(), make_event()
    second.pos = second.pos * 0.5
    write_trackml_event(second, tmp_path / 'event000000010', compress=True)
    write_trackml_event(first, tmp_path / 'event000000003')
    (tmp_path / 'notes.txt').write_text('not an event')

    def count_hits(data):
        data.count = data.num_nodes
        return data

    dataset = TrackMLDataset(tmp_path, transform=count_hits)

    assert len(dataset) == 2
    assert dataset.prefixes == [tmp_path / 'event000000003',
                                tmp_path / 'event000000010']
    assert dataset[0].event_id == 3
    assert dataset[1].event_id == 10
    assert torch.equal(dataset[1].pos, second.pos)
    assert dataset[0].count == 5


@needs_event
def test_dataset_sample_folder():
    dataset = TrackMLDataset(DATA_DIR)

    assert len(dataset) == 1
    assert dataset[0].event_id == 1
    assert dataset[0].num_nodes == 5527


def test_find_events_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='No TrackML events'):
        find_trackml_events(tmp_path)


def test_submission_track_ids():
    track_id = submission_track_ids(torch.tensor([2, -1, 0, -1, 2]))

    assert track_id.tolist() == [2, 3, 0, 4, 2]
    assert submission_track_ids(torch.tensor([-1, -1])).tolist() == [0, 1]


def test_submission_negative_label_rejected():
    with pytest.raises(ValueError, match='Track label -2 is negative'):
        submission_track_ids(torch.tensor([0, -2]))


@pytest.mark.parametrize('name', ['submission.csv', 'submission.csv.gz'])
def test_submission_round_trip(tmp_path, name):
    path = write_trackml_submission(tmp_path / name, [
        (7, torch.tensor([5, 6, 9]), torch.tensor([1, -1, 1])),
        (2, np.array([1, 2]), np.array([0, 0])),
    ])
    events = read_trackml_submission(path)

    assert list(events) == [2, 7]
    assert events[7][0].tolist() == [5, 6, 9]
    assert events[7][1].tolist() == [1, 2, 1]
    assert events[2][0].tolist() == [1, 2]
    assert events[2][1].tolist() == [0, 0]


def test_submission_file_format(tmp_path):
    path = write_trackml_submission(tmp_path / 'submission.csv', [
        (1, torch.tensor([4, 8]), torch.tensor([-1, 3])),
    ])

    assert path.read_text() == 'event_id,hit_id,track_id\n1,4,4\n1,8,3\n'


def test_submission_repeated_event_rejected(tmp_path):
    predictions = [(1, torch.tensor([1]), torch.tensor([0]))] * 2

    with pytest.raises(ValueError, match='Event id 1 is negative or appears '
                       'twice'):
        write_trackml_submission(tmp_path / 'submission.csv', predictions)
    assert list(tmp_path.iterdir()) == []


def test_submission_length_mismatch_rejected(tmp_path):
    with pytest.raises(ValueError, match='Event 1: 2 hit ids but 1 track '
                       'labels'):
        write_trackml_submission(tmp_path / 'submission.csv', [
            (1, torch.tensor([1, 2]), torch.tensor([0]))])


def test_submission_repeated_hit_rejected(tmp_path):
    with pytest.raises(ValueError, match="Event 1: 'hit_id' repeats a value"):
        write_trackml_submission(tmp_path / 'submission.csv', [
            (1, torch.tensor([1, 1]), torch.tensor([0, 1]))])


def test_submission_float_labels_rejected(tmp_path):
    with pytest.raises(ValueError, match="Expected 'track_label' of event 1 "
                       "as a 1-D integer array, got dtype float32"):
        write_trackml_submission(tmp_path / 'submission.csv', [
            (1, torch.tensor([1, 2]), torch.tensor([0.0, 1.0]))])


def test_read_submission_missing_column(tmp_path):
    path = tmp_path / 'submission.csv'
    path.write_text('event_id,hit_id\n1,2\n')

    with pytest.raises(ValueError, match=r"'.*submission.csv' has no "
                       r"column\(s\) \['track_id'\]"):
        read_trackml_submission(path)


def test_read_submission_negative_track(tmp_path):
    path = tmp_path / 'submission.csv'
    path.write_text('event_id,hit_id,track_id\n1,2,0\n1,3,-1\n')

    with pytest.raises(ValueError, match=r"Column 'track_id' of TrackML file "
                       r"'.*submission.csv' contains -1 in data row 2"):
        read_trackml_submission(path)


def test_read_submission_repeated_hit(tmp_path):
    path = tmp_path / 'submission.csv'
    path.write_text('event_id,hit_id,track_id\n1,2,0\n1,2,1\n')

    with pytest.raises(ValueError, match="list a hit twice"):
        read_trackml_submission(path)


def test_read_submission_short_row(tmp_path):
    path = tmp_path / 'submission.csv'
    path.write_text('event_id,hit_id,track_id\n1,2,0\n1,3')

    with pytest.raises(ValueError, match=r"'.*submission.csv' line 3 has 2 "
                       r"fields and lacks column\(s\) \['track_id'\]"):
        read_trackml_submission(path)


def test_writer_uses_simulated_particle_table(tmp_path):
    config = SimulationConfig(source='gun', noise_rate=5.0,
                              gun={'species': [211, -321],
                                   'num_particles': 3})
    event = simulate_events(1, seed=4, config=config)[0]
    write_trackml_event(event, tmp_path / 'event1')
    read = read_trackml_event(tmp_path / 'event1')
    lines = (tmp_path / 'event1-particles.csv').read_text().splitlines()[1:]
    rows = [line.split(',') for line in lines]

    assert torch.equal(read.particle_id, event.particle_id)
    assert torch.allclose(read.particle_pt, event.particle_pt, rtol=1e-6)
    assert torch.equal(read.pid_label, event.pid_label)
    for row, particle in zip(rows, event.particles):
        assert int(row[1]) == int(particle[1])  # PDG code
        assert float(row[5]) == float(particle[4])  # px in GeV
        assert int(row[8]) == int(particle[2])  # charge
