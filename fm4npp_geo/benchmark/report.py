"""Benchmark records: the JSON file and the Markdown report with its tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fm4npp_geo.benchmark.schema import validate_record
from fm4npp_geo.fileio import atomic_open

#: Columns of the tracking table: (metric key, header, format).
TRACKING_COLUMNS = (
    ("ari", "ARI", "{:.3f}"),
    ("efficiency", "Efficiency", "{:.3f}"),
    ("purity", "Purity", "{:.3f}"),
    ("dm_efficiency", "DM efficiency", "{:.3f}"),
    ("dm_fake_rate", "DM fake rate", "{:.3f}"),
    ("dm_duplicate_rate", "DM duplicate rate", "{:.3f}"),
    ("trackml_score", "TrackML score", "{:.3f}"),
)
#: Columns of the classifier table.
CLASSIFIER_COLUMNS = (
    ("accuracy", "Accuracy", "{:.3f}"),
    ("macro_precision", "Macro precision", "{:.3f}"),
    ("macro_recall", "Macro recall", "{:.3f}"),
    ("macro_f1", "Macro F1", "{:.3f}"),
)
#: Columns of the cost table.
COST_COLUMNS = (
    ("train_seconds", "Train s", "{:.1f}"),
    ("inference_ms_per_event", "Inference ms/event", "{:.1f}"),
)

DEFINITIONS = (
    "ARI is computed per test event (truth noise one cluster, each unassigned hit a cluster of its own) "
    "and averaged over events. Efficiency and purity follow FM4NPP: a truth track is a particle with "
    "{min_truth_hits} or more hits, found when a predicted track of {min_track_hits} or more hits has it as "
    "majority particle and holds more than half of its hits; purity is the mean majority fraction of "
    "predicted tracks with {min_track_hits} or more hits. DM columns use double-majority matching (more than "
    "{fraction:.0%} of the track's hits from the particle and more than {fraction:.0%} of the particle's hits "
    "in the track) over tracks of {majority_min_track_hits} or more hits and the reconstructable particles "
    "({rule}). The TrackML score is the official weighted score, averaged over events. All tracking ratios "
    "except ARI and the TrackML score are pooled over the test events."
)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`~fm4npp_geo.fileio.atomic_open`)."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as file:
        file.write(text)
    return path


def format_cell(model: dict[str, Any], key: str, fmt: str) -> str:
    """Return the mean of metric ``key`` over seeds, with its standard deviation when there are several."""
    mean = model["mean"].get(key)
    if mean is None:
        return "n/a"
    text = fmt.format(mean)
    if len(model["seeds"]) > 1:
        text += " ± " + fmt.format(model["std"].get(key, 0.0))
    return text


def _table(models: dict[str, dict[str, Any]], columns: tuple, first: tuple[str, ...] = ("Model",)) -> str:
    header = "| " + " | ".join([*first, *(title for _, title, _ in columns)]) + " |"
    rows = [header, "|---" * (len(columns) + len(first)) + "|"]
    for name, model in models.items():
        lead = [name] if len(first) == 1 else [name, model["task"]]
        cells = [format_cell(model, key, fmt) for key, _, fmt in columns]
        rows.append("| " + " | ".join([*lead, *cells]) + " |")
    return "\n".join(rows)


def format_table(record: dict[str, Any]) -> str:
    """Return the Markdown tables of a record: tracking, classifiers (if any) and cost."""
    models = record["models"]
    trackers = {name: model for name, model in models.items() if model["kind"] == "tracker"}
    classifiers = {name: model for name, model in models.items() if model["kind"] == "classifier"}
    parts = []
    if trackers:
        parts.append(_table(trackers, TRACKING_COLUMNS))
    if classifiers:
        parts.append(_table(classifiers, CLASSIFIER_COLUMNS, ("Model", "Task")))
    cost = ["| Model | Trainable params | " + " | ".join(title for _, title, _ in COST_COLUMNS) + " |"]
    cost.append("|---" * (len(COST_COLUMNS) + 2) + "|")
    for name, model in models.items():
        cells = [format_cell(model, key, fmt) for key, _, fmt in COST_COLUMNS]
        cost.append(f"| {name} | {model['num_parameters']:,d} | " + " | ".join(cells) + " |")
    parts.append("\n".join(cost))
    return "\n\n".join(parts)


def _describe_rule(rule: dict[str, Any]) -> str:
    parts = [f"at least {rule.get('min_hits', 3)} hits"]
    if rule.get("min_layers"):
        parts.append(f"at least {rule['min_layers']} layers")
    if rule.get("min_pt"):
        parts.append(f"pT >= {rule['min_pt']} GeV")
    if rule.get("max_abs_eta") is not None:
        parts.append(f"|eta| <= {rule['max_abs_eta']}")
    if rule.get("primary_only"):
        parts.append("primary")
    return ", ".join(parts)


def format_report(record: dict[str, Any]) -> str:
    """Return the Markdown report: data summary, the tables, definitions and figures."""
    data, metrics = record["data"], record["metrics_config"]
    seeds = record["seeds"]
    lines = [
        "# fm4npp-geo benchmark",
        "",
        f"Data: {data['events']} events ({data['description']}), {data['mean_hits_per_event']:.1f} hits and "
        f"{data['mean_tracks_per_event']:.1f} tracks (particles with >= 3 hits) per event on average.",
        f"Splits: {data['num_pretrain']} unlabeled pretraining, {data['num_train']} labeled training, "
        f"{data['num_val']} validation, {data['num_test']} test events.",
        f"Seeds: {', '.join(map(str, seeds))}"
        + (" (each cell is the mean ± standard deviation over seeds)." if len(seeds) > 1 else "."),
        "",
        format_table(record),
        "",
        DEFINITIONS.format(
            min_truth_hits=metrics.get("min_truth_hits", 3),
            min_track_hits=metrics.get("min_track_hits", 4),
            fraction=metrics.get("matching_fraction", 0.5),
            majority_min_track_hits=metrics.get("majority_min_track_hits", 3),
            rule=_describe_rule(metrics.get("reconstructable") or {}),
        ),
    ]
    pretrain = record.get("pretrain") or {}
    if pretrain:
        lines += [
            "",
            f"Backbone pretraining (k-NNN, k = {pretrain.get('k')}): {pretrain.get('steps')} steps in "
            f"{pretrain.get('seconds', 0.0):.1f} s, loss {pretrain.get('loss_first', 0.0):.4g} -> "
            f"{pretrain.get('loss_last', 0.0):.4g}; backbone {pretrain.get('num_parameters', 0):,d} parameters "
            "(frozen during adapter training, not counted above).",
        ]
    figures = record.get("figures") or []
    if figures:
        lines += ["", "Figures (first seed): " + ", ".join(f"[{name}]({name})" for name in figures) + "."]
    lines += ["", f"Machine: {record['machine']}. Whole run: {record['total_seconds']:.0f} s.", ""]
    return "\n".join(lines)


def write_record(record: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Check ``record`` against the schema and write ``benchmark.json`` and ``report.md`` atomically."""
    validate_record(record)
    out_dir = Path(out_dir)
    json_path = write_text_atomic(out_dir / "benchmark.json", json.dumps(record, indent=2) + "\n")
    report_path = write_text_atomic(out_dir / "report.md", format_report(record))
    return json_path, report_path
