"""Version and structure of the ``benchmark.json`` record (documented in docs/benchmark.md)."""

from __future__ import annotations

from typing import Any

#: Version of the record layout; raised whenever a key is renamed, moved or removed.
SCHEMA_VERSION = 2

#: Top-level keys of a record and their types.
RECORD_KEYS: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "created": str,
    "data": dict,
    "seeds": list,
    "metrics_config": dict,
    "pretrain": dict,
    "models": dict,
    "config": dict,
    "machine": str,
    "total_seconds": float,
}
#: Keys of each ``models`` entry and their types.
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "task": str,
    "num_parameters": int,
    "num_test_events": int,
    "seeds": list,
    "mean": dict,
    "std": dict,
    "per_seed": list,
}


def _check_keys(mapping: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for key, kind in expected.items():
        if key not in mapping:
            raise ValueError(f"benchmark record: {where} lacks '{key}'")
        if not isinstance(mapping[key], kind) or isinstance(mapping[key], bool):
            raise ValueError(
                f"benchmark record: {where}['{key}'] should be {kind}, got {type(mapping[key]).__name__}"
            )


def validate_record(record: dict[str, Any]) -> None:
    """Raise ValueError naming the first key of ``record`` that breaks the current schema."""
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"benchmark record has schema_version {version!r}, expected {SCHEMA_VERSION}")
    _check_keys(record, RECORD_KEYS, "the record")
    for name, model in record["models"].items():
        where = f"models['{name}']"
        _check_keys(model, MODEL_KEYS, where)
        if model["kind"] not in ("tracker", "classifier"):
            raise ValueError(f"benchmark record: {where}['kind'] is {model['kind']!r}, expected tracker or classifier")
        if len(model["per_seed"]) != len(model["seeds"]):
            raise ValueError(
                f"benchmark record: {where} has {len(model['per_seed'])} runs for {len(model['seeds'])} seeds"
            )
        for run in model["per_seed"]:
            _check_keys(run, {"seed": int, "metrics": dict, "fit": dict, "curves": dict}, f"{where} run")
