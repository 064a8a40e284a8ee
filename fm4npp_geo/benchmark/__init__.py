"""The head-to-head benchmark runner and its records."""

from fm4npp_geo.benchmark.report import format_report, format_table, write_record
from fm4npp_geo.benchmark.runner import run_benchmark

__all__ = ["format_report", "format_table", "run_benchmark", "write_record"]
