"""Benchmark records: the JSON file and the Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fm4npp_geo.fileio import atomic_open

#: Columns of the tracking table: (record key, header, format).
TABLE_COLUMNS = (
    ("ari", "ARI", "{:.3f}"),
    ("efficiency", "Efficiency", "{:.3f}"),
    ("purity", "Purity", "{:.3f}"),
    ("num_test_events", "Test events", "{:d}"),
    ("num_parameters", "Trainable params", "{:,d}"),
    ("train_seconds", "Train s", "{:.1f}"),
    ("inference_ms_per_event", "Inference ms/event", "{:.1f}"),
)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`~fm4npp_geo.fileio.atomic_open`)."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as file:
        file.write(text)
    return path


def format_table(record: dict[str, Any]) -> str:
    """Return the per-model tracking results of a benchmark record as a Markdown table."""
    header = "| Model | " + " | ".join(title for _, title, _ in TABLE_COLUMNS) + " |"
    rule = "|---" * (len(TABLE_COLUMNS) + 1) + "|"
    rows = [header, rule]
    for name, result in record["models"].items():
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            value = result.get(key)
            cells.append("n/a" if value is None else fmt.format(value))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def format_report(record: dict[str, Any]) -> str:
    """Return the Markdown report: data summary, the table and how it was made."""
    data = record["data"]
    pretrain = record.get("pretrain", {})
    lines = [
        "# fm4npp-geo benchmark",
        "",
        f"Data: {data['events']} simulated events ({data['source']}), "
        f"{data['mean_hits_per_event']:.1f} hits and {data['mean_tracks_per_event']:.1f} "
        "tracks (particles with >= 3 hits) per event on average.",
        f"Splits: {data['num_pretrain']} unlabeled pretraining, {data['num_train']} labeled "
        f"training, {data['num_val']} validation, {data['num_test']} test events.",
        "",
        format_table(record),
        "",
        "ARI is averaged over test events (noise as its own cluster). Efficiency counts "
        "truth tracks with >= 3 hits found by a predicted track of >= 4 hits that holds "
        "more than 50% of the particle's hits and has it as majority; purity is the mean "
        "majority fraction of predicted tracks with >= 4 hits. Both are pooled over the "
        "test events.",
    ]
    if pretrain:
        lines += [
            "",
            f"Backbone pretraining (k-NNN, k = {pretrain.get('k')}): {pretrain.get('steps')} steps "
            f"in {pretrain.get('seconds', 0.0):.1f} s, loss {pretrain.get('loss_first', 0.0):.4g} "
            f"-> {pretrain.get('loss_last', 0.0):.4g}; backbone {pretrain.get('num_parameters', 0):,d} "
            "parameters (frozen during adapter training, not counted above).",
        ]
    lines += ["", f"Machine: {record['machine']}", ""]
    return "\n".join(lines)


def write_record(record: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``benchmark.json`` and ``report.md`` into ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    json_path = write_text_atomic(out_dir / "benchmark.json", json.dumps(record, indent=2) + "\n")
    report_path = write_text_atomic(out_dir / "report.md", format_report(record))
    return json_path, report_path
