"""fm4npp-geo: a Mamba2 foundation model and GNN trackers for detector hits."""

__version__ = "0.1.0"
