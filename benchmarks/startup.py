"""Time from process start to the end of the first compiled MLP training step, cold and warm.

    python benchmarks/startup.py
    python benchmarks/startup.py --json /tmp/startup.json

Cold: a fresh subprocess with `KERASISH_CACHE_DIR` pointing at a new, empty temporary folder,
so every kernel is compiled. Warm: another fresh subprocess on the same folder, so kernels come
from the on-disk cache. Both times run from just before the subprocess is spawned (interpreter
start included) to the moment the first compiled step has returned its loss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

MARKER = "KERASISH_STARTUP_RESULT "


def child(batch: int) -> None:
    """Runs in the fresh subprocess: import, build, first compiled step; prints one JSON line."""
    script_start = time.time()
    t0 = time.perf_counter()
    result: dict = {"script_start": script_start, "stage": "import"}
    try:
        import kerasish  # noqa: F401

        result["import_s"] = time.perf_counter() - t0
        import mlp

        step = mlp.KerasishStep(batch, compiled=True)
        result["build_s"] = time.perf_counter() - t0 - result["import_s"]
        result["stage"] = "step"
        t1 = time.perf_counter()
        result["loss"] = step()
        result["first_step_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        result["end"] = script_start + (t2 - t0)  # end of the first step, wall clock
        step()
        result["second_step_s"] = time.perf_counter() - t2
    except Exception as exc:
        result["error"] = common.short_error(exc)
    print(MARKER + json.dumps(result), flush=True)


def run_child(cache_dir: str, batch: int, threads: int | None) -> dict:
    env = dict(os.environ, KERASISH_CACHE_DIR=cache_dir)
    if threads is not None:
        for name in (*common.THREAD_ENV_VARS, "NUMBA_NUM_THREADS"):
            env[name] = str(threads)
    cmd = [sys.executable, os.path.join(HERE, "startup.py"), "--child", "--batch", str(batch)]
    started = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            break
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"child exited with {proc.returncode}: {tail[0][:160]}"}
    result["interpreter_s"] = result.pop("script_start") - started
    if "end" in result:
        result["total_s"] = result.pop("end") - started
    files, size = 0, 0
    for root, _, names in os.walk(cache_dir):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    result["cache_files"], result["cache_bytes"] = files, size
    return result


def describe(label: str, r: dict) -> str:
    cache = f"cache dir now {r.get('cache_files', 0)} files, {r.get('cache_bytes', 0) / 1e6:.1f} MB"
    if "error" in r:
        imported = f"; import kerasish {r['import_s']:.2f} s" if "import_s" in r else ""
        what = "compiled step failed" if r.get("stage") == "step" else "compiler not available"
        return f"{label:5s} n/a ({what}: {r['error']}){imported}"
    return (
        f"{label:5s} {r['total_s']:7.2f} s   (interpreter {r['interpreter_s']:.2f} s, import "
        f"kerasish {r['import_s']:.2f} s, build {r['build_s']:.2f} s, first step "
        f"{r['first_step_s']:.2f} s; next step {r['second_step_s'] * 1e3:.1f} ms; {cache})"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", metavar="PATH", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the cache folder (prints it)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.batch)
        return 0

    load_before = common.other_load(0.5)
    cache_dir = tempfile.mkdtemp(prefix="kerasish-startup-cache-")
    try:
        cold = run_child(cache_dir, args.batch, args.threads)
        warm = run_child(cache_dir, args.batch, args.threads)
    finally:
        if args.keep:
            print(f"cache kept in {cache_dir}")
        else:
            shutil.rmtree(cache_dir, ignore_errors=True)

    print(
        f"Process start -> end of the first compiled MLP 784-512-512-10 training step "
        f"(batch {args.batch}), each in a fresh subprocess:"
    )
    print(describe("cold", cold))
    print(describe("warm", warm))
    load_after = common.other_load(0.5)
    loads = [x for x in (load_before, load_after) if x is not None]
    if loads:
        print(
            "other load (CPU busy while we slept, before/after): "
            + " / ".join("n/a" if x is None else f"{x:.0%}" for x in (load_before, load_after))
        )
        warning = common.busy_warning(max(loads))
        if warning:
            print(warning)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so Python recompiles .py files on import")
    if args.json:
        data = {"batch": args.batch, "cold": cold, "warm": warm}
        data["other_load"] = {"before": load_before, "after": load_after}
        common.write_json(args.json, data)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
