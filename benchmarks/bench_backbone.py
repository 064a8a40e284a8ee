"""Time the Mamba2 backbone on CPU beside mambapy, and its fused and PyTorch paths on CUDA.

CPU section: forward plus backward tokens per second of our backbone (width
64, 4 blocks, d_state 16) and of mambapy's Mamba (pure PyTorch, parallel scan,
same width, depth and state size) on one sequence of L = 1,000 / 4,000 /
20,000 tokens, and the peak resident memory of each run. Every run is a fresh
subprocess, so the peak (``ru_maxrss``, which includes the ~0.3 GB of the
imported libraries) belongs to that configuration alone.

CUDA section, when a GPU is present: forward and forward plus backward tokens
per second of the presets m1..m4 with the fused mamba-ssm path and with the
pure-PyTorch path, batch 64 at L = 850 and 3,200, and the maximum relative
difference of their outputs. A path that runs out of GPU memory is reported
as such.

    python benchmarks/bench_backbone.py --threads 2
    python benchmarks/bench_backbone.py --cuda-only --json cuda.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import torch

CPU_LENGTHS = (1_000, 4_000, 20_000)
CUDA_PRESETS = ("m1", "m2", "m3", "m4")
CUDA_LENGTHS = (850, 3_200)
CUDA_BATCH = 64
#: Chunk length per path on CUDA: mamba-ssm's default for the fused kernels, and
#: a shorter one for the PyTorch path, whose intra-chunk tensors grow with it.
CHUNK_SIZES = {"fused": 256, "torch": 64}
#: Goals: at least this speed-up over mambapy at L = 4,000, and at most this
#: peak memory at L = 20,000.
SPEEDUP_GOAL = 3.0
MEMORY_GOAL_MB = 2048.0


def build_cpu_model(implementation: str, chunk_size: int) -> tuple[torch.nn.Module, int]:
    """Return the model and its input width."""
    if implementation == "ours":
        from fm4npp_geo.nn import FM4NPPBackbone

        model = FM4NPPBackbone(
            d_model=64, n_layer=4, d_state=16, headdim=64, chunk_size=chunk_size, scan="torch"
        )
        return model, model.in_features
    from mambapy.mamba import Mamba, MambaConfig

    config = MambaConfig(d_model=64, n_layers=4, d_state=16, expand_factor=2, d_conv=4, pscan=True)
    return Mamba(config), 64


def time_training_step(model: torch.nn.Module, x: torch.Tensor, repeats: int,
                       synchronize: Callable[[], None] = lambda: None) -> float:
    """Return the fastest of ``repeats`` forward plus backward passes, in seconds, after one warm-up."""
    times = []
    for step in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        synchronize()
        start = time.perf_counter()
        model(x).square().mean().backward()
        synchronize()
        if step > 0:
            times.append(time.perf_counter() - start)
    return min(times)


def run_cpu_worker(args: argparse.Namespace) -> None:
    """Time one configuration in this process and print one JSON line."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, width = build_cpu_model(args.worker, args.chunk_size)
    x = torch.randn(1, args.length, width)
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = time_training_step(model, x, args.repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = dict(
        implementation=args.worker,
        length=args.length,
        seconds=seconds,
        tokens_per_s=args.length / seconds,
        peak_rss_mb=peak_mb,
        rss_before_mb=rss_before_mb,
    )
    print(json.dumps(record))


def run_cpu_section(args: argparse.Namespace) -> list[dict]:
    """Run every CPU configuration in its own subprocess and print the table."""
    implementations = ["ours"] if args.skip_mambapy else ["ours", "mambapy"]
    records = []
    for length in args.lengths:
        for implementation in implementations:
            command = [
                sys.executable, __file__, "--worker", implementation, "--length", str(length),
                "--threads", str(args.threads), "--chunk-size", str(args.chunk_size),
                "--repeats", str(args.repeats if length < 10_000 else max(1, args.repeats - 1)),
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                message = result.stderr.strip().splitlines()[-1:] or ["no output"]
                records.append(dict(implementation=implementation, length=length, error=message[0]))
                continue
            records.append(json.loads(result.stdout.strip().splitlines()[-1]))

    print(f"\nCPU forward+backward, width 64, 4 blocks, d_state 16, batch 1, "
          f"{args.threads} threads, chunk_size {args.chunk_size} (ours)")
    print(f"{'L':>7} {'ours tok/s':>11} {'mambapy tok/s':>14} {'ratio':>6} "
          f"{'ours peak MB':>13} {'mambapy peak MB':>16}")
    for length in args.lengths:
        ours = _find(records, "ours", length)
        theirs = _find(records, "mambapy", length)
        ratio = _ratio(ours, theirs)
        print(f"{length:>7} {_rate(ours):>11} {_rate(theirs):>14} {ratio:>6} "
              f"{_memory(ours):>13} {_memory(theirs):>16}")
    for record in records:
        if "error" in record:
            print(f"  {record['implementation']} L={record['length']} failed: {record['error']}")
    _print_cpu_goals(records)
    return records


def _find(records: list[dict], implementation: str, length: int) -> dict | None:
    for record in records:
        if record["implementation"] == implementation and record["length"] == length:
            return record
    return None


def _rate(record: dict | None) -> str:
    return f"{record['tokens_per_s']:,.0f}" if record and "tokens_per_s" in record else "-"


def _memory(record: dict | None) -> str:
    return f"{record['peak_rss_mb']:,.0f}" if record and "peak_rss_mb" in record else "-"


def _ratio(ours: dict | None, theirs: dict | None) -> str:
    if not ours or not theirs or "tokens_per_s" not in ours or "tokens_per_s" not in theirs:
        return "-"
    return f"{ours['tokens_per_s'] / theirs['tokens_per_s']:.1f}x"


def _print_cpu_goals(records: list[dict]) -> None:
    ours, theirs = _find(records, "ours", 4_000), _find(records, "mambapy", 4_000)
    if ours and theirs and "tokens_per_s" in ours and "tokens_per_s" in theirs:
        speedup = ours["tokens_per_s"] / theirs["tokens_per_s"]
        verdict = "met" if speedup >= SPEEDUP_GOAL else "missed"
        print(f"goal >= {SPEEDUP_GOAL:.0f}x mambapy at L=4000: {speedup:.1f}x, {verdict}")
    longest = _find(records, "ours", 20_000)
    if longest and "peak_rss_mb" in longest:
        verdict = "met" if longest["peak_rss_mb"] <= MEMORY_GOAL_MB else "missed"
        print(f"goal peak <= {MEMORY_GOAL_MB:.0f} MB at L=20000: "
              f"{longest['peak_rss_mb']:,.0f} MB, {verdict}")


def run_cuda_section(args: argparse.Namespace) -> list[dict]:
    """Compare the fused and PyTorch paths on the GPU for the presets.

    ``--device cpu`` runs the same code on the CPU (torch path only), as a
    quick check of this function on machines without a GPU.
    """
    from fm4npp_geo.nn import FM4NPPBackbone, kernels, preset

    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    fused_available = on_gpu and kernels.load_fused_kernels() is not None
    device_name = torch.cuda.get_device_name() if on_gpu else "CPU (dry run)"
    print(f"\nCUDA: {device_name}, torch {torch.__version__}, "
          f"batch {args.batch}, float32 weights and inputs, chunk_size {CHUNK_SIZES}")
    if fused_available:
        print(f"mamba-ssm {kernels.load_fused_kernels().version}; causal-conv1d "
              f"{'loaded' if kernels.load_fused_kernels().causal_conv1d else 'missing (PyTorch conv)'}")
    else:
        reason = kernels.fused_kernels_error() if on_gpu else "not a CUDA device"
        print(f"fused kernels unavailable ({reason}): torch path only")
    print(f"{'preset':<7}{'L':>6} {'path':<6}{'fwd tok/s':>13}{'fwd+bwd tok/s':>15}{'max rel diff':>14}")

    records = []
    for name in args.presets:
        for length in args.cuda_lengths:
            torch.manual_seed(0)
            model = FM4NPPBackbone(**preset(name, chunk_size=256, scan="torch")).to(device)
            x = torch.rand(args.batch, length, model.in_features, device=device) * 2 - 1
            paths = ["fused", "torch"] if fused_available else ["torch"]
            outputs = {}
            for path in paths:
                for layer in model.layers:
                    layer.mixer.scan = path
                    layer.mixer.chunk_size = CHUNK_SIZES[path]
                record = dict(preset=name, length=length, path=path)
                record.update(_time_device_path(model, x, args.repeats, outputs))
                records.append(record)
            if len(outputs) == 2:
                difference = (outputs["fused"] - outputs["torch"]).abs().max() / outputs["torch"].abs().max()
                records[-2]["max_relative_difference"] = difference.item()
            for record in records[-len(paths):]:
                diff = record.get("max_relative_difference")
                print(f"{name:<7}{length:>6} {record['path']:<6}{_cuda_rate(record, 'forward'):>13}"
                      f"{_cuda_rate(record, 'training'):>15}{'' if diff is None else f'{diff:.2e}':>14}")
            del model, x, outputs
            _empty_cache(device)
    return records


def _empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _time_device_path(model: torch.nn.Module, x: torch.Tensor, repeats: int, outputs: dict) -> dict:
    tokens = x.shape[0] * x.shape[1]
    path = model.layers[0].mixer.scan
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    result = {}
    try:
        with torch.no_grad():
            outputs[path] = model(x)
            synchronize()
            start = time.perf_counter()
            for _ in range(repeats):
                model(x)
            synchronize()
        result["forward_tokens_per_s"] = tokens * repeats / (time.perf_counter() - start)
    except torch.cuda.OutOfMemoryError:
        result["forward_error"] = "out of memory"
    _empty_cache(x.device)
    try:
        seconds = time_training_step(model, x, repeats, synchronize)
        result["training_tokens_per_s"] = tokens / seconds
    except torch.cuda.OutOfMemoryError:
        result["training_error"] = "out of memory"
    model.zero_grad(set_to_none=True)
    _empty_cache(x.device)
    return result


def _cuda_rate(record: dict, kind: str) -> str:
    if f"{kind}_tokens_per_s" in record:
        return f"{record[f'{kind}_tokens_per_s']:,.0f}"
    return record.get(f"{kind}_error", "-")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--chunk-size", type=int, default=64, help="SSD chunk length of our CPU runs")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per configuration")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(CPU_LENGTHS),
                        help="CPU sequence lengths")
    parser.add_argument("--skip-mambapy", action="store_true", help="time only our backbone on CPU")
    parser.add_argument("--cuda-only", action="store_true", help="skip the CPU section")
    parser.add_argument("--cpu-only", action="store_true", help="skip the CUDA section")
    parser.add_argument("--presets", nargs="+", default=list(CUDA_PRESETS), help="CUDA presets")
    parser.add_argument("--cuda-lengths", type=int, nargs="+", default=list(CUDA_LENGTHS),
                        help="CUDA sequence lengths")
    parser.add_argument("--batch", type=int, default=CUDA_BATCH, help="CUDA batch size")
    parser.add_argument("--device", default="cuda",
                        help="device of the CUDA section; 'cpu' makes a quick dry run")
    parser.add_argument("--json", default=None, help="write the records to this JSON file")
    parser.add_argument("--worker", choices=["ours", "mambapy"], help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        run_cpu_worker(args)
        return 0

    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"torch {torch.__version__}")
    record = {}
    if not args.cuda_only:
        record["cpu"] = run_cpu_section(args)
    if not args.cpu_only and (torch.cuda.is_available() or args.device == "cpu"):
        record["cuda"] = run_cuda_section(args)
    elif not args.cpu_only:
        print("\nCUDA section skipped: no CUDA device")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(record, file, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
