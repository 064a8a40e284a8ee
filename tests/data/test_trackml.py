import gzip
from pathlib import Path

import pytest
import torch

from fm4npp_geo.data import read_trackml_event
from fm4npp_geo.data.trackml import TRACKML_LAYERS

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

