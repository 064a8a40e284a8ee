"""GNN point classifiers for particle identification and noise tagging.

GraphSAGE and GAT networks on a k-nearest-neighbour graph of hits, the GNN
baselines of the FM4NPP PID and noise-tagging comparison.
"""

from baselines.gnn.classifier import TARGETS, GNNPointClassifier
from baselines.gnn.model import CONVOLUTIONS, PointGNN, knn_graph

__all__ = ["CONVOLUTIONS", "GNNPointClassifier", "PointGNN", "TARGETS", "knn_graph"]
