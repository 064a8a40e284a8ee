"""Detector geometry, event simulation, file readers and datasets."""

from fm4npp_geo.data.dataset import TPCSimDataset
from fm4npp_geo.data.display import plot_event
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.gun import ParticleGun
from fm4npp_geo.data.particles import PARTICLE_COLUMNS, ParticleTable
from fm4npp_geo.data.pythia import PythiaEventGenerator
from fm4npp_geo.data.simulation import (
    SimulationConfig,
    make_event_source,
    simulate_event,
    simulate_events,
)
from fm4npp_geo.data.summary import (
    count_tracks,
    format_summary,
    summarize_events,
)
from fm4npp_geo.data.tpcpp import TPCppLayout, layer_from_radius, read_tpcpp_file
from fm4npp_geo.data.tpcpp_dataset import TPCppDataset
from fm4npp_geo.data.tpcpp_writer import write_tpcpp
from fm4npp_geo.data.trackml import read_trackml_event
from fm4npp_geo.data.trackml_dataset import TrackMLDataset, find_trackml_events
from fm4npp_geo.data.trackml_submission import (
    read_trackml_submission,
    submission_track_ids,
    write_trackml_submission,
)
from fm4npp_geo.data.trackml_writer import write_trackml_event
from fm4npp_geo.data.transport import transport
from fm4npp_geo.data.validate import (
    DetectorVolume,
    InvalidEventError,
    validate_event,
)

__all__ = [
    'TPCGeometry',
    'ParticleTable',
    'PARTICLE_COLUMNS',
    'ParticleGun',
    'PythiaEventGenerator',
    'SimulationConfig',
    'make_event_source',
    'simulate_event',
    'simulate_events',
    'transport',
    'TPCSimDataset',
    'summarize_events',
    'format_summary',
    'count_tracks',
    'plot_event',
    'TPCppLayout',
    'TPCppDataset',
    'read_tpcpp_file',
    'write_tpcpp',
    'layer_from_radius',
    'TrackMLDataset',
    'find_trackml_events',
    'read_trackml_event',
    'write_trackml_event',
    'write_trackml_submission',
    'read_trackml_submission',
    'submission_track_ids',
    'DetectorVolume',
    'InvalidEventError',
    'validate_event',
]
