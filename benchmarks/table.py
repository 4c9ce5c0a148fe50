"""The benchmark's figures as text (what run.py prints) and as the README's markdown table.

    python benchmarks/table.py bench.json          # markdown snippet: date, machine, command, table
    python benchmarks/table.py bench.json --text   # the full text report run.py printed
    python benchmarks/table.py bench.json --readme README.md   # rewrite the README's table

The input is the JSON `run.py --json` writes. `--readme` replaces what lies between the
README's `BEGIN`/`END` markers with the markdown for that JSON (its path relative to the
README named in the first marker, so a test can check the table is the one the JSON gives).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workloads import WORKLOADS, peer_row  # noqa: E402

NAMES = {"ours": "kerasish", "torch": "PyTorch", "keras-jax": "Keras (JAX)"}
PEERS = ("torch", "keras-jax")
BUSY = 0.10  # other processes' share of the CPUs from which figures are flagged


def framework_versions(results: dict) -> dict:
    """framework -> one line of versions, from the first worker of each that finished."""
    lines = {}
    for summary in results["workloads"].values():
        for framework, state in summary["frameworks"].items():
            env = state.get("environment")
            if framework in lines or not env:
                continue
            if framework == "ours":
                lines[framework] = (
                    f"kerasish {env['kerasish']} (numpy {env['numpy']}, numba {env['numba']}, "
                    f"BLAS {env['numpy_blas']})"
                )
            elif framework == "torch":
                lines[framework] = f"PyTorch {env['torch']} ({env['torch_threads']} threads)"
            else:
                lines[framework] = f"Keras {env['keras']} on JAX {env['jax']}"
    return lines


def _in_order(results: dict) -> list[tuple[str, dict]]:
    """(name, summary) of every workload in the results, in the suite's order (a run may
    take them in another)."""
    order = {name: i for i, name in enumerate(WORKLOADS)}
    return sorted(results["workloads"].items(), key=lambda item: order.get(item[0], len(order)))


def blas_kernels(results: dict) -> dict:
    """framework -> the BLAS kernel its worker loaded (threadpoolctl's view, or "unknown"),
    with numpy's matmul measurement under "numpy"."""
    kernels = {"numpy": results["matmul_peak"]["before"]["environment"].get("blas_kernel")}
    for summary in results["workloads"].values():
        for framework, state in summary["frameworks"].items():
            env = state.get("environment") or {}
            if framework not in kernels and env.get("blas_kernel"):
                kernels[framework] = env["blas_kernel"]
    return kernels


def _rows(results: dict):
    """(workload name, summary, row name, ours' figures or None) for every row any framework
    timed (ours' first; PyTorch's `model(x)` stands for three of the Keras API's rows)."""
    for name, summary in _in_order(results):
        rows: dict = {}
        for framework in ("ours", "keras-jax", "torch"):
            rows.update(dict.fromkeys(summary["frameworks"].get(framework, {}).get("rows") or {}))
        ours = summary["frameworks"].get("ours", {}).get("rows") or {}
        for row in rows:
            yield name, summary, row, ours.get(row)


def label(summary: dict, row: str) -> str:
    kind, batch = summary["kind"], summary["batch"]
    if kind == "single":
        return f"{summary['title']}: `{row}`"
    if kind == "predict-loop":
        what = "`predict(x)`" if row == "predict" else row
        return f"MLP {what} on {batch} samples, in a loop"
    if kind == "step":
        return f"{summary['title']}, batch {batch}"
    return f"{summary['title']}, batch {batch}"


def _rate(figures: dict | None) -> str:
    return "n/a" if not figures else f"{figures['per_s']:,.0f}"


def _peer_figures(summary: dict, row: str, peer: str) -> dict | None:
    rows = summary["frameworks"].get(peer, {}).get("rows") or {}
    other = peer_row(row, rows)
    return rows.get(other) if other else None


def _ratio(summary: dict, row: str, peer: str) -> str:
    """The ratio of the medians, with the lowest and highest ratio within one round."""
    entry = summary["ratios"].get(row, {}).get(peer)
    if not entry:
        return "n/a"
    rounds = f" ({entry['round_min']:.2f}-{entry['round_max']:.2f})" if "round_min" in entry else ""
    return f"{entry['ratio']:.2f}x{rounds}"


def _spreads(summary: dict, row: str) -> str:
    """Slowest/fastest repeat - 1 of the row, per framework."""
    parts = []
    for framework in ("ours", *PEERS):
        figures = (
            (summary["frameworks"].get(framework, {}).get("rows") or {}).get(row)
            if framework == "ours"
            else _peer_figures(summary, row, framework)
        )
        parts.append(f"{figures['spread']:.0%}" if figures else "n/a")
    return " / ".join(parts)


def _rss(summary: dict) -> str:
    parts = []
    for framework in ("ours", *PEERS):
        state = summary["frameworks"].get(framework, {})
        parts.append(f"{state['peak_rss_mb']:.0f}" if state.get("peak_rss_mb") else "n/a")
    return " / ".join(parts)


def markdown(results: dict) -> list[str]:
    """The README's benchmark table with the date, machine and command above it."""
    m = results["machine"]
    versions = results.get("frameworks", {})
    peak = results["matmul_peak"]["gflops"]
    lines = [
        f"Measured {results['date'][:10]} on {m['cpu']} ({m['cpus_usable']} CPUs usable, "
        f"{results['threads']} threads for every framework), numpy float32 2048x2048 matmul "
        f"{peak:.1f} GFLOP/s; {', '.join(versions.get(f, NAMES[f]) for f in NAMES)}. Median of "
        f"{results['repeats']} repeats, each framework in its own process, taking turns; a ratio's "
        "range is its lowest and highest within one round, a spread the slowest repeat over the "
        "fastest, less 1.",
        f"Command: `{results['command']}`",
        f"BLAS kernel (numpy, as threadpoolctl reports it): "
        f"{blas_kernels(results).get('numpy') or 'unknown'}.",
        "",
        "| workload | unit | kerasish | PyTorch | Keras (JAX) | vs PyTorch | vs Keras (JAX) "
        "| kerasish GFLOP/s (% of matmul) | peak RSS, MB (kerasish / PyTorch / JAX) "
        "| spread (kerasish / PyTorch / JAX) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _name, summary, row, figures in _rows(results):
        if row == "numpy forward":
            continue
        unit = "samples/s" if summary["unit"] == "samples" else "calls/s"
        gflops = (
            f"{figures['gflops']:.1f} ({figures['fraction_of_matmul_peak']:.0%})"
            if figures
            else "n/a"
        )
        cells = [
            label(summary, row),
            unit,
            _rate(figures),
            _rate(_peer_figures(summary, row, "torch")),
            _rate(_peer_figures(summary, row, "keras-jax")),
            _ratio(summary, row, "torch"),
            _ratio(summary, row, "keras-jax"),
            gflops,
            _rss(summary),
            _spreads(summary, row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [_overhead_note(s) for s in results["workloads"].values() if "overhead_us" in s]
    if not results.get("complete", True):
        notes.append("the run was cut short: only the workloads above finished")
    busy = max_other_load(results)
    if busy is not None and busy >= BUSY:
        notes.append(f"other processes used up to {busy:.0%} of the CPUs while rows were timed")
    if notes:
        text = "; ".join(notes)
        lines += ["", text[0].upper() + text[1:] + "."]
    return lines


def _overhead_note(summary: dict) -> str:
    overhead = summary["overhead_us"]
    what = f"`predict(x)` on {summary['batch']} samples"
    if overhead < 0:
        return (
            f"{what} timed faster than the same forward pass in plain numpy, so its overhead "
            "above compute could not be measured in this run"
        )
    return (
        f"{what} costs {overhead:.0f} us more than the same forward pass in plain numpy "
        "(preallocated buffers)"
    )


def max_other_load(results: dict) -> float | None:
    loads = [
        figures["other_load_max"]
        for summary in results["workloads"].values()
        for state in summary["frameworks"].values()
        for figures in (state.get("rows") or {}).values()
        if figures and figures.get("other_load_max") is not None
    ]
    return max(loads) if loads else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def text_report(results: dict) -> list[str]:
    """Everything run.py prints: environment, then a block per workload, then the checks."""
    m = results["machine"]
    peak = results["matmul_peak"]
    pinned = f" (pinned to CPUs {results['pinned_cpus']})" if results["pinned_cpus"] else ""
    lines = [
        f"{m['cpu']}, {m['cpus_usable']} CPUs usable, {results['threads']} threads per "
        f"framework{pinned}, {results['repeats']} alternating repeats",
        f"python {m['python']}, {m['platform']}",
    ]
    for framework in NAMES:
        where = results["interpreters"].get(framework, "")
        version = results.get("frameworks", {}).get(framework)
        lines.append(f"{NAMES[framework]:12s} {version or where}")
    lines.append(
        f"numpy float32 2048x2048 matmul: {peak['gflops']:.1f} GFLOP/s (best of the runs before "
        f"and after: {peak['before']['gflops']:.1f}, {peak['after']['gflops']:.1f})"
    )
    load = results["other_load"]
    busy = max_other_load(results)
    lines.append(
        f"other load (other processes' share of the CPUs): idle before {_pct(load['before'])}, "
        f"after {_pct(load.get('after'))}, at most {_pct(busy)} while rows were timed"
    )
    if busy is not None and busy >= BUSY:
        lines.append(
            "WARNING: other processes were busy while rows were timed; figures are low and noisy "
            "(thread pools stall when a core is taken). Re-run on an idle machine."
        )
    for framework, kernel in blas_kernels(results).items():
        lines.append(f"BLAS kernel, {NAMES.get(framework, framework)}: {kernel}")
    workaround = [k for k, v in results["env"].items() if v is not None]
    if workaround:
        lines.append(
            f"note: {' and '.join(workaround)} set in the calling environment; unset in every "
            "worker (they make a current OpenBLAS pick slower kernels)."
        )
    checks = []
    for name, summary in _in_order(results):
        lines += ["", f"[{name}] {summary['title']}, batch {summary['batch']}"]
        for framework in NAMES:
            state = summary["frameworks"].get(framework)
            if state is None:
                continue
            if not state.get("available"):
                lines.append(f"  {NAMES[framework]:12s} n/a ({state.get('reason')})")
                continue
            lines.append(
                f"  {NAMES[framework]:12s} peak RSS {state.get('peak_rss_mb', 0):.0f} MB (after "
                f"import {state.get('rss_after_import_mb') or 0:.0f} MB); import "
                f"{state['import_seconds']:.1f} s, check + warm-up {state['warmup_seconds']:.1f} s"
            )
            for row, f in state["rows"].items():
                if not f:
                    continue
                unit = "samples/s" if summary["unit"] == "samples" else "calls/s"
                extra = f", {f['us_per_call']:.1f} us/call" if "us_per_call" in f else ""
                lines.append(
                    f"    {row:26s} {f['per_s']:>12,.1f} {unit}{extra}; {f['gflops']:.2f} GFLOP/s "
                    f"({f['fraction_of_matmul_peak']:.1%} of matmul); spread "
                    f"{f['spread']:.0%}, other load {_pct(f['other_load_max'])}"
                )
        for row, peers in summary["ratios"].items():
            for peer, r in peers.items():
                spread = ""
                if "round_min" in r:
                    spread = f" (rounds {r['round_min']:.2f}-{r['round_max']:.2f})"
                lines.append(f"  {row} ours/{NAMES[peer]}: {r['ratio']:.2f}x{spread}")
        if summary.get("overhead_us") is not None:
            lines.append(
                f"  predict overhead over the numpy forward: {summary['overhead_us']:.1f} us/call"
            )
        for c in summary["checks"]:
            status = "ok" if c["ok"] else "MISMATCH"
            diff = f"max |diff| {c['max_abs_diff']:.2e}" if "max_abs_diff" in c else c.get("shapes")
            checks.append(f"{name}: {c['what']} vs {NAMES[c['peer']]}: {diff} -> {status}")
    lines.append("")
    lines += [f"check: {c}" for c in checks]
    if not results.get("complete", True):
        lines.append("INCOMPLETE: the run was cut short; these are the workloads it finished.")
    if "seconds" in results:
        lines.append(f"(benchmark took {results['seconds']:.0f} s)")
    return lines


#: The lines around the README's generated table (the JSON's path goes in BEGIN's braces).
BEGIN = "<!-- benchmark table: generated by `python benchmarks/table.py {} --readme README.md` -->"
END = "<!-- end of the generated benchmark table -->"


def readme_section(results: dict, json_path: str) -> str:
    """The README's table for `results`, between its markers (`json_path` as written in
    the first marker, relative to the README)."""
    return "\n".join([BEGIN.format(json_path), "", *markdown(results), "", END])


#: The generated section: BEGIN naming a JSON path, through END.
_SECTION = re.compile(re.escape(BEGIN).replace(re.escape("{}"), r"(\S+)") + ".*?" + re.escape(END),
                      re.S)  # fmt: skip


def find_section(readme: str) -> tuple[str, str] | None:
    """(the README's generated section, the JSON path its first marker names), or None."""
    match = _SECTION.search(readme)
    return (match.group(0), match.group(1)) if match else None


def replace_section(readme: str, section: str) -> str:
    """`readme` with its generated section (BEGIN marker through END marker) replaced by
    `section`. Raises ValueError when the README has no such markers."""
    found = find_section(readme)
    if found is None:
        raise ValueError(f"table.py: the README has no {BEGIN!r} ... {END!r} markers")
    start = readme.index(found[0])
    return readme[:start] + section + readme[start + len(found[0]) :]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json", help="the file run.py --json wrote")
    parser.add_argument("--text", action="store_true", help="the full text report instead")
    parser.add_argument("--readme", metavar="README", help="rewrite this README's table")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as f:
        results = json.load(f)
    if args.readme:
        base = os.path.dirname(os.path.abspath(args.readme))
        relative = os.path.relpath(os.path.abspath(args.json), base).replace(os.sep, "/")
        with open(args.readme, encoding="utf-8") as f:
            text = replace_section(f.read(), readme_section(results, relative))
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(text)
        return 0
    for line in text_report(results) if args.text else markdown(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
