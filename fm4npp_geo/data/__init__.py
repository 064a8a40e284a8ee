"""Detector geometry, event simulation, file readers and datasets."""

from fm4npp_geo.data.dataset import TPCSimDataset
from fm4npp_geo.data.display import plot_event
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.particles import ParticleTable
from fm4npp_geo.data.pythia import PythiaEventGenerator
from fm4npp_geo.data.simulation import (
    SimulationConfig,
    simulate_event,
    simulate_events,
)
from fm4npp_geo.data.summary import (
    count_tracks,
    format_summary,
    summarize_events,
)
from fm4npp_geo.data.trackml import read_trackml_event

__all__ = [
    'TPCGeometry',
    'ParticleTable',
    'SimulationConfig',
    'simulate_event',
    'simulate_events',
    'PythiaEventGenerator',
    'TPCSimDataset',
    'summarize_events',
    'format_summary',
    'count_tracks',
    'plot_event',
    'read_trackml_event',
]
