"""The benchmark suite: kerasish against PyTorch and Keras 3 on JAX, each framework in its own
process, timed in alternation.

    python benchmarks/run.py --json bench.json                   # the whole suite
    python benchmarks/run.py --keras-python ~/keras-venv/bin/python --json bench.json
    python benchmarks/run.py --quick                              # smoke run (not figures)
    python benchmarks/run.py --workloads mlp-fit,single --repeats 7
    python benchmarks/table.py bench.json                         # the README's table

For every workload (`--list` shows them) one worker process per framework (`worker.py`) builds
the model, checks that it computes what ours computes, and warms up; then, for `--repeats`
rounds, each worker in turn times one repeat while the others wait, the order rotating every
round. Reported: samples/s (or calls/s), the median over the repeats, per framework; the
ratios ours/peer; GFLOP/s and its fraction of numpy's float32 2048x2048 matmul measured in
the same run; the peak RSS of each worker process. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import table  # noqa: E402
import workloads  # noqa: E402  (imports numpy; run.py itself runs no numeric code)

PEERS = ("torch", "keras-jax")
MIN_REPEATS = 5
READY_TIMEOUT_S = 3600.0  # a cold kernel cache compiles for minutes
REPEAT_TIMEOUT_S = 900.0
PAUSE_S = 0.1  # between turns at least: the last worker's spinning threads go to sleep
QUIET_MAX_S = 1.0  # and at most this long, waiting for them (`wait_until_quiet`)
CHECK_TOLERANCE = 1e-4  # of the output's scale (at least 1)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = ",".join(name for name, w in workloads.WORKLOADS.items() if w.default)
    parser.add_argument(
        "--workloads",
        default=default,
        help=f"comma-separated workloads, or 'all' (default: {default})",
    )
    parser.add_argument(
        "--repeats", type=int, default=MIN_REPEATS, help="timed rounds (default and minimum 5)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for every framework (default: every CPU this process may use)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small repeats, 2 rounds")
    parser.add_argument("--json", metavar="PATH", default=None, help="write every figure here")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--no-jax", action="store_true", help="skip Keras 3 on JAX")
    parser.add_argument(
        "--torch-python",
        default=None,
        help="the interpreter with torch (default: this one, when it has torch)",
    )
    parser.add_argument(
        "--keras-python",
        default=os.environ.get("KERASISH_BENCH_KERAS_PYTHON"),
        help="the interpreter with keras and jax (default: $KERASISH_BENCH_KERAS_PYTHON, else "
        "this one when it has both)",
    )
    parser.add_argument(
        "--target-seconds",
        type=float,
        default=None,
        help="length of one repeat of the call-loop rows (default 0.5 s; 0.1 with --quick)",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    names = list(workloads.WORKLOADS) if args.workloads == "all" else args.workloads.split(",")
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(workloads.WORKLOADS)}")
    args.workloads = names
    if args.quick:
        args.repeats = min(args.repeats, 2)
    elif args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS} (or use --quick for a smoke run)")
    usable = sorted(os.sched_getaffinity(0))
    if args.threads is None:
        args.threads = len(usable)
    if not 1 <= args.threads <= len(usable):
        parser.error(f"--threads must be in [1, {len(usable)}]")
    # Fewer threads than CPUs: every worker is pinned to the same CPUs, since XLA sizes its
    # thread pool by the CPUs it may use and has no other setting for it.
    args.cpus = ",".join(map(str, usable[: args.threads])) if args.threads < len(usable) else None
    if args.target_seconds is None:
        args.target_seconds = 0.1 if args.quick else 0.5
    return args


# --------------------------------------------------------------------------------------------
# Worker processes


class Worker:
    """One worker process (`worker.py`) and the JSON-lines conversation with it."""

    def __init__(self, framework: str, python: str, workload: str, args):
        cmd = [
            python,
            os.path.join(HERE, "worker.py"),
            "--workload",
            workload,
            "--framework",
            framework,
            "--threads",
            str(args.threads),
            "--target-seconds",
            str(args.target_seconds),
        ]
        if args.cpus:
            cmd += ["--cpus", args.cpus]
        if args.quick:
            cmd.append("--quick")
        env = dict(os.environ)
        for name in common.OPENBLAS_WORKAROUND_VARS:  # they make a current OpenBLAS slower
            env.pop(name, None)
        if framework == "keras-jax":
            env["KERAS_BACKEND"] = "jax"
        self.framework = framework
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )

    def receive(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"event": "error", "stage": "timeout", "error": f"no answer in {timeout:.0f} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"event": "error", "stage": "exit", "error": f"exited ({code}): {self._tail()}"}
        return json.loads(line)

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def _tail(self) -> str:
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().splitlines() if line.strip()]
        return " | ".join(lines[-3:])[-300:] or "no output"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def frameworks(args) -> dict:
    """framework -> its interpreter, or a string saying why it does not run."""
    found = {"ours": sys.executable}
    if args.no_torch:
        found["torch"] = "skipped: --no-torch"
    elif args.torch_python or importlib.util.find_spec("torch") is not None:
        found["torch"] = args.torch_python or sys.executable
    else:
        found["torch"] = "torch not installed (or pass --torch-python)"
    if args.no_jax:
        found["keras-jax"] = "skipped: --no-jax"
    elif args.keras_python:
        found["keras-jax"] = args.keras_python
    elif all(importlib.util.find_spec(m) is not None for m in ("keras", "jax")):
        found["keras-jax"] = sys.executable
    else:
        found["keras-jax"] = "Keras 3 with JAX not installed (or pass --keras-python)"
    return found


def _is_path(value: str) -> bool:
    return os.path.sep in value or value == sys.executable


def measure_peak(args) -> dict:
    """numpy's float32 2048x2048 matmul in its own process, with the workers' threads."""
    worker = Worker("numpy", sys.executable, "matmul-peak", args)
    try:
        message = worker.receive(REPEAT_TIMEOUT_S)
    finally:
        worker.close()
    if message["event"] != "done":
        raise RuntimeError(f"the matmul measurement failed: {message.get('error')}")
    return {**message["matmul_peak"], "environment": message["environment"]}


def run_workload(name: str, args, pythons: dict) -> dict:
    """Starts a worker per framework, checks, then times `args.repeats` alternating rounds."""
    work = workloads.WORKLOADS[name]
    result: dict = {"frameworks": {}, "order": []}
    state = result["frameworks"]
    workers = {}
    for framework, python in pythons.items():
        if not _is_path(python):
            state[framework] = {"available": False, "reason": python}
        elif framework == "keras-jax" and work.kind == "step":
            state[framework] = {"available": False, "reason": "Keras 3 has no GradientTape"}
        else:
            workers[framework] = Worker(framework, python, name, args)
    try:
        for framework, worker in list(workers.items()):  # they warm up concurrently
            message = worker.receive(READY_TIMEOUT_S)
            if message["event"] != "ready":
                state[framework] = _failed(message)
                worker.close()
                del workers[framework]
                continue
            state[framework] = {"available": True, "repeats": [], **message}
            del state[framework]["event"]
        order = list(workers)
        for round_ in range(args.repeats):
            shift = round_ % max(1, len(order))
            turn = order[shift:] + order[:shift]
            result["order"].append(turn)
            for framework in turn:
                if framework not in workers:
                    continue
                workers[framework].send("run")
                message = workers[framework].receive(REPEAT_TIMEOUT_S)
                if message["event"] != "repeat":
                    state[framework] = _failed(message)
                    workers.pop(framework).close()
                    continue
                state[framework]["repeats"].append(message["rows"])
                wait_until_quiet(workers[framework].proc.pid)
        for framework, worker in workers.items():
            worker.send("finish")
            message = worker.receive(REPEAT_TIMEOUT_S)
            if message["event"] == "done":
                state[framework].update({k: v for k, v in message.items() if k != "event"})
            else:
                state[framework] = _failed(message)
    finally:
        for worker in workers.values():
            worker.close()
    return result


def _cpu_ns(pid: int) -> int | None:
    """CPU time every thread of process `pid` has used (ns), or None where Linux's
    per-thread scheduler statistics are not available."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def wait_until_quiet(pid: int) -> None:
    """Waits PAUSE_S, then until the worker that just timed its turn uses under 5% of a CPU
    (its BLAS threads may spin after their last call: PyTorch's OpenBLAS for about 0.1 s,
    2**28 cycles, longer on a slower clock), at most QUIET_MAX_S in all; so the next turn
    starts on cores no other worker holds."""
    start = time.perf_counter()
    time.sleep(PAUSE_S)
    window = 0.02
    before = _cpu_ns(pid)
    while before is not None and time.perf_counter() - start < QUIET_MAX_S:
        time.sleep(window)
        after = _cpu_ns(pid)
        if after is None or after - before < 0.05 * window * 1e9:
            return
        before = after


def _failed(message: dict) -> dict:
    reason = f"failed at {message.get('stage')}: {message.get('error')}"
    if message.get("not_installed"):
        reason = f"not installed: {message.get('error')}"
    return {"available": False, "reason": reason, "traceback": message.get("traceback")}


# --------------------------------------------------------------------------------------------
# Figures


def summarize(name: str, raw: dict, peak_gflops: float) -> dict:
    """Per framework and row: the median repeat, rates, GFLOP/s, % of peak; the ratios of
    ours to each peer; the agreement checks."""
    work = workloads.WORKLOADS[name]
    module = workloads.model_module(work)
    flops = work.flops_per_unit(module)
    out = {
        "title": work.title,
        "model": work.model,
        "kind": work.kind,
        "batch": work.batch,
        "unit": work.unit,
        "flops_per_unit": flops,
        "order": raw["order"],
        "frameworks": {},
        "ratios": {},
        "checks": [],
    }
    for framework, state in raw["frameworks"].items():
        if not state.get("available"):
            out["frameworks"][framework] = state
            continue
        rows = {}
        for row in state["rows"]:
            series = [r[row] for r in state["repeats"] if row in r]
            rows[row] = row_figures(series, flops, work, peak_gflops) if series else None
        figures = {k: v for k, v in state.items() if k not in ("repeats", "rows", "checks")}
        out["frameworks"][framework] = {**figures, "rows": rows}
    ours = raw["frameworks"].get("ours", {})
    if ours.get("available"):
        for peer in PEERS:
            theirs = raw["frameworks"].get(peer, {})
            if theirs.get("available"):
                for row, entry in _ratios(out, ours, theirs, peer).items():
                    out["ratios"].setdefault(row, {})[peer] = entry
                out["checks"] += compare_checks(ours["checks"], theirs["checks"], peer)
        rows = out["frameworks"]["ours"]["rows"]
        predict, numpy_forward = rows.get("predict"), rows.get("numpy forward")
        if predict and numpy_forward:
            out["overhead_us"] = predict["us_per_call"] - numpy_forward["us_per_call"]
    return out


def row_figures(series: list[dict], flops: float, work, peak_gflops: float) -> dict:
    seconds = [r["seconds"] for r in series]
    units = series[0]["units"]
    median = statistics.median(seconds)
    per_s = units / median
    loads = [r["other_load"] for r in series if r["other_load"] is not None]
    figures = {
        "repeat_seconds": seconds,
        "units_per_repeat": units,
        "median_seconds": median,
        "per_s": per_s,
        "samples_per_s": per_s * (1 if work.unit == "samples" else work.batch),
        "gflops": flops * per_s / 1e9,
        "fraction_of_matmul_peak": flops * per_s / 1e9 / peak_gflops,
        "spread": max(seconds) / min(seconds) - 1,
        "other_load_max": max(loads) if loads else None,
    }
    if work.unit == "calls":
        figures["us_per_call"] = median / units * 1e6
    return figures


def _ratios(out: dict, ours: dict, theirs: dict, peer: str) -> dict:
    """ours/peer for every row of ours that the peer has: the ratio of the medians, and the
    ratio within each round (the two repeats timed closest together)."""
    ratios = {}
    ours_rows = out["frameworks"]["ours"]["rows"]
    peer_rows = out["frameworks"][peer]["rows"]
    for row, figures in ours_rows.items():
        other = workloads.peer_row(row, peer_rows)
        if figures is None or other is None or peer_rows.get(other) is None:
            continue
        per_round = [
            (a[row]["units"] / a[row]["seconds"]) / (b[other]["units"] / b[other]["seconds"])
            for a, b in zip(ours["repeats"], theirs["repeats"], strict=False)
            if row in a and other in b
        ]
        entry = {
            "ratio": figures["per_s"] / peer_rows[other]["per_s"],
            "peer_row": other,
            "per_round": per_round,
        }
        if per_round:
            entry["round_min"], entry["round_max"] = min(per_round), max(per_round)
        ratios[row] = entry
    return ratios


def compare_checks(ours: dict, theirs: dict, peer: str) -> list[dict]:
    """Our check outputs against the peer's: predictions within CHECK_TOLERANCE of the
    output's scale, losses within that relative tolerance."""
    import numpy as np

    results = []
    for key, value in ours.items():
        other = workloads.peer_row(key, theirs)
        if other is None:
            continue
        a, b = np.asarray(value, dtype=np.float64), np.asarray(theirs[other], dtype=np.float64)
        if a.shape != b.shape:
            results.append({"peer": peer, "what": key, "ok": False, "shapes": [a.shape, b.shape]})
            continue
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
        results.append(
            {
                "peer": peer,
                "what": key,
                "max_abs_diff": diff,
                "scale": scale,
                "ok": bool(diff <= CHECK_TOLERANCE * scale),
            }
        )
    return results


# --------------------------------------------------------------------------------------------


def machine() -> dict:
    return {
        "cpu": common.cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "hostname": platform.node(),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, work in workloads.WORKLOADS.items():
            default = "" if work.default else "  (not in the default run)"
            print(f"{name:14s} {work.title}, batch {work.batch}{default}")
        return 0
    started = time.perf_counter()
    pythons = frameworks(args)
    command = "python benchmarks/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    results: dict = {
        "schema": 1,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": machine(),
        "threads": args.threads,
        "pinned_cpus": args.cpus,
        "repeats": args.repeats,
        "quick": args.quick,
        "interpreters": pythons,
        "env": {k: os.environ.get(k) for k in common.OPENBLAS_WORKAROUND_VARS},
    }
    load_before = common.other_load(0.5)
    print(f"matmul peak, {args.threads} thread(s) ...", flush=True)
    peak_before = measure_peak(args)
    raw = {}
    for name in args.workloads:
        print(f"{name} ...", flush=True)
        t0 = time.perf_counter()
        raw[name] = run_workload(name, args, pythons)
        print(f"{name} done in {time.perf_counter() - t0:.0f} s", flush=True)
        if args.json:  # what is done so far, should the run be cut short
            peak = peak_before["gflops"]
            partial = {**results, "complete": False, "other_load": {"before": load_before}}
            partial["matmul_peak"] = {"gflops": peak, "before": peak_before, "after": peak_before}
            partial["workloads"] = {n: summarize(n, raw[n], peak) for n in raw}
            common.write_json(args.json, partial)
    peak_after = measure_peak(args)
    load_after = common.other_load(0.5)
    peak = max(peak_before["gflops"], peak_after["gflops"])
    results["matmul_peak"] = {"gflops": peak, "before": peak_before, "after": peak_after}
    results["other_load"] = {"before": load_before, "after": load_after}
    results["workloads"] = {name: summarize(name, raw[name], peak) for name in raw}
    results["complete"] = True
    results["frameworks"] = table.framework_versions(results)
    results["seconds"] = time.perf_counter() - started
    print()
    for line in table.text_report(results):
        print(line)
    if args.json:
        common.write_json(args.json, results)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
