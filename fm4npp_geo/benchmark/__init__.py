"""The head-to-head benchmark runner, its model protocols, records and figures."""

from fm4npp_geo.benchmark.protocol import CLASSIFIER_TARGETS, PointClassifier
from fm4npp_geo.benchmark.report import format_report, format_table, write_record
from fm4npp_geo.benchmark.runner import run_benchmark
from fm4npp_geo.benchmark.schema import SCHEMA_VERSION, validate_record

__all__ = [
    "CLASSIFIER_TARGETS",
    "PointClassifier",
    "SCHEMA_VERSION",
    "format_report",
    "format_table",
    "run_benchmark",
    "validate_record",
    "write_record",
]
