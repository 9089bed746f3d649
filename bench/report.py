"""Write BENCHMARKS.md from the results of bench/run.

Every load figure is the median over the run's repetitions. Each repetition contributes one
load run: requests per second over the measured window and latency quantiles from its HDR
histogram. The targets are compared here and reported, never asserted.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict

MEGABYTE_KB = 1024

PYTHON_PACKAGE_NAMES = [
    "alter-sdk",
    "fastapi",
    "starlette",
    "fastmcp",
    "mcp",
    "uvicorn",
    "uvloop",
    "httptools",
    "httpx",
    "pydantic",
]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="the JSON lines bench/run recorded")
    parser.add_argument("--divan", required=True, help="the output of the divan bench")
    parser.add_argument("--mode", required=True, help="quick or full")
    parser.add_argument("--command", required=True, help="the command that ran the benchmark")
    parser.add_argument("--python-packages", required=True, help="`pip list --format=json`")
    parser.add_argument("--python", required=True, help="the Python interpreter of the apps")
    parser.add_argument("--settings", required=True, help="the run's settings as JSON")
    return parser.parse_args()


def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        return f"unknown ({error})"


def machine_facts(python, python_packages):
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    os_name = platform.platform()
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release", encoding="utf-8") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    versions = {package["name"].lower(): package["version"] for package in python_packages}
    packages = ", ".join(
        f"{name} {versions[name]}" for name in PYTHON_PACKAGE_NAMES if name in versions
    )
    return [
        ("CPU", cpu),
        ("Cores", str(os.cpu_count())),
        ("Memory", f"{memory_kb / MEGABYTE_KB / MEGABYTE_KB:.1f} GiB"),
        ("OS", f"{os_name}, Linux {platform.release()}"),
        ("rustc", command_output(["rustc", "--version"])),
        ("Python", command_output([python, "--version"])),
        ("Python packages", packages),
        ("Commit", command_output(["git", "rev-parse", "--short", "HEAD"])),
    ]


def load_results(path):
    with open(path, encoding="utf-8") as results:
        return [json.loads(line) for line in results if line.strip()]


def medians(results, scenario):
    """Group the load results of one scenario by (target, connections) and take medians."""
    groups = defaultdict(list)
    for row in results:
        if row.get("scenario") == scenario:
            groups[(row["target"], row["connections"])].append(row["result"])
    summary = {}
    for key, runs in groups.items():
        summary[key] = {
            "rps": statistics.median(run["rps"] for run in runs),
            "p50_us": statistics.median(run["p50_us"] for run in runs),
            "p99_us": statistics.median(run["p99_us"] for run in runs),
            "requests": sum(run["requests"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "runs": len(runs),
            "first_error": next((run["first_error"] for run in runs if run["first_error"]), None),
        }
    return summary


def milliseconds(micros):
    return f"{micros / 1000:.2f}"


def ratio(numerator, denominator):
    if not denominator:
        return "n/a"
    return f"{numerator / denominator:.1f}×"


def parse_divan(path):
    """Read the median time and median allocations per iteration of each divan bench."""
    benches = {}
    current = None
    section = None
    with open(path, encoding="utf-8") as output:
        for line in output:
            # Rows inside a tree branch start with the branch's own `│`, which is no column.
            text = line.rstrip("\n")
            if text.startswith("│"):
                text = " " + text[1:]
            cells = [cell.strip() for cell in text.split("│")]
            first = cells[0]
            name = re.match(r"^[├╰]─\s*(\S+)\s+(.*)$", first)
            if name and len(cells) >= 3:
                current = name.group(1)
                benches[current] = {"median": cells[2], "fastest": name.group(2).strip()}
                section = None
                continue
            label = first
            if current is None:
                continue
            if label.endswith(":") and label[:-1] in ("alloc", "dealloc", "grow", "shrink"):
                section = label[:-1]
                benches[current][section] = []
            elif section and label and len(cells) >= 3:
                benches[current][section].append(cells[2])
    return benches


def targets_table(chat, token, mcp, memory):
    rows = []
    rust64, python64 = chat.get(("rust", 64)), chat.get(("python", 64))
    if rust64 and python64:
        rps_ratio = rust64["rps"] / python64["rps"] if python64["rps"] else float("inf")
        rows.append((
            "`/chat` requests per second, Rust ÷ Python, 64 connections",
            f"{rps_ratio:.1f}×",
            "≥ 20×",
            rps_ratio >= 20,
        ))
        p99_share = rust64["p99_us"] / python64["p99_us"] if python64["p99_us"] else float("inf")
        rows.append((
            "`/chat` p99, Rust ÷ Python, 64 connections",
            f"{p99_share:.3f}",
            "≤ 0.1",
            p99_share <= 0.1,
        ))
    rust1, floor1, token1 = chat.get(("rust", 1)), chat.get(("floor", 1)), token.get(("devvault", 1))
    if rust1 and floor1 and token1:
        bound = floor1["p50_us"] + token1["p50_us"]
        share = rust1["p50_us"] / bound
        rows.append((
            "`/chat` median latency, Rust ÷ (floor + one `/sdk/token`), 1 connection",
            f"{share:.2f} ({milliseconds(rust1['p50_us'])} ms vs "
            f"{milliseconds(floor1['p50_us'])} + {milliseconds(token1['p50_us'])} ms)",
            "≤ 1.3",
            share <= 1.3,
        ))
    best_rust = max((value["rps"] for (target, _), value in mcp.items() if target == "rust"), default=0)
    best_python = max((value["rps"] for (target, _), value in mcp.items() if target == "python"), default=0)
    for connections in sorted({c for (_, c) in mcp}):
        rust, python = mcp.get(("rust", connections)), mcp.get(("python", connections))
        if rust and python and python["rps"]:
            mcp_ratio = rust["rps"] / python["rps"]
            rows.append((
                f"MCP `tools/call` per second, Rust ÷ FastMCP with `AlterMCP`, "
                f"{connections} connection{'s' if connections > 1 else ''}",
                f"{mcp_ratio:.1f}×",
                "≥ 10×",
                mcp_ratio >= 10,
            ))
    if best_rust and best_python:
        rows.append((
            "MCP `tools/call` per second, best Rust ÷ best Python over all connection counts",
            f"{best_rust / best_python:.1f}×",
            "≥ 10×",
            best_rust / best_python >= 10,
        ))
    idle = memory.get("idle")
    if idle:
        rows.append((
            "Quickstart resident memory, idle",
            f"{idle['rss_kb'] / MEGABYTE_KB:.1f} MiB",
            "≤ 30 MB",
            idle["rss_kb"] * 1024 <= 30_000_000,
        ))
    lines = ["| Target | Measured | Goal | Met |", "|---|---|---|---|"]
    for name, measured, goal, met in rows:
        lines.append(f"| {name} | {measured} | {goal} | {'yes' if met else '**no**'} |")
    return lines


def load_table(summary, targets, labels):
    connection_counts = sorted({connections for (_, connections) in summary})
    header = ["Connections"]
    for target in targets:
        label = labels[target]
        header += [f"{label} req/s", f"{label} p50 ms", f"{label} p99 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for connections in connection_counts:
        cells = [str(connections)]
        for target in targets:
            value = summary.get((target, connections))
            if value is None:
                cells += ["–", "–", "–"]
                continue
            errors = f" ({value['errors']} errors)" if value["errors"] else ""
            cells += [
                f"{value['rps']:.0f}{errors}",
                milliseconds(value["p50_us"]),
                milliseconds(value["p99_us"]),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ratio_table(summary, first, second, title):
    lines = [
        f"| Connections | {title} req/s | {title} p99 |",
        "|---|---|---|",
    ]
    for connections in sorted({c for (_, c) in summary}):
        a, b = summary.get((first, connections)), summary.get((second, connections))
        if a and b:
            lines.append(
                f"| {connections} | {ratio(a['rps'], b['rps'])} | "
                f"{b['p99_us'] / a['p99_us'] if a['p99_us'] else float('nan'):.1f}× lower |"
            )
    return lines


def error_notes(*summaries):
    notes = []
    for name, summary in summaries:
        for (target, connections), value in sorted(summary.items()):
            if value["errors"]:
                notes.append(
                    f"- {name}, {target}, {connections} connections: {value['errors']} errors; "
                    f"the first: `{(value['first_error'] or '')[:200]}`"
                )
    return notes


def main():
    arguments = parse_arguments()
    results = load_results(arguments.results)
    settings = json.loads(arguments.settings)
    python_packages = json.loads(arguments.python_packages)
    chat = medians(results, "chat")
    token = medians(results, "sdk_token")
    mcp = medians(results, "mcp")
    memory = {row["state"]: row["result"] | {"hold": row.get("hold")} for row in results if row["scenario"] == "memory"}
    divan = parse_divan(arguments.divan)
    profile_path = os.path.join(os.path.dirname(__file__), "profile.md")

    out = []
    out.append("# Benchmarks")
    out.append("")
    out.append(
        "Written by `bench/run` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, in "
        f"**{arguments.mode}** mode. Run it again with:"
    )
    out.append("")
    out.append("```sh")
    out.append(arguments.command)
    out.append("```")
    out.append("")
    if arguments.mode == "quick":
        out.append(
            "Quick mode runs each load point once for a short time, so these figures are noisy; "
            "`bench/run` without `BENCH_QUICK` runs three repetitions and reports their medians."
        )
        out.append("")
    out.append(
        f"Settings: {settings['repetitions']} repetition(s) of {settings['duration_s']} s per load "
        f"point after {settings['warmup_s']} s of warm-up; {settings['users']} dev users, each "
        "with a connected demo grant, spread over the connections; the Python apps run under "
        f"uvicorn with {settings['python_workers']} workers (one per core), uvloop and httptools. "
        "Every server, DevVault and the load generator share this machine's cores. Each connection "
        "count of each scenario runs against a fresh DevVault with new users, so that every load "
        "point starts from the same state."
    )
    out.append("")
    out.append("## Machine")
    out.append("")
    out.append("| | |")
    out.append("|---|---|")
    for name, value in machine_facts(arguments.python, python_packages):
        out.append(f"| {name} | {value} |")
    out.append("")
    out.append("## Targets")
    out.append("")
    out.extend(targets_table(chat, token, mcp, memory))
    out.append("")
    out.append("## Client overhead")
    out.append("")
    out.append(
        "`cargo bench -p alter-bench --bench request`: one `request()` through a vault whose "
        "transport responds from memory (no sockets), so the time is the SDK's own: argument and "
        "URL checks, the signed `POST /sdk/token`, token response checks, injection, the provider "
        "request, and the audit row, sent by a flush within the iteration. Divan's counting "
        "allocator counts the allocations. Median per iteration:"
    )
    out.append("")
    out.append("| Bench | Time | Allocations | Bytes allocated |")
    out.append("|---|---|---|---|")
    for name, bench in divan.items():
        allocations = bench.get("alloc", ["–", "–"])
        out.append(
            f"| `{name}` | {bench['median']} | {allocations[0] if allocations else '–'} | "
            f"{allocations[1] if len(allocations) > 1 else '–'} |"
        )
    out.append("")
    out.append("## `POST /chat`")
    out.append("")
    out.append(
        "The quickstart's route under a closed-loop load (`alter-bench load`: a fixed number of "
        "keep-alive HTTP/1.1 connections, each sending its next request when the previous "
        "response is read). **Rust** is the quickstart example (`alter_examples::quickstart`) "
        "against `alter-dev`; **Python** is `bench/python/chat_app.py`, the same handler with "
        "`AlterFastAPI`; **floor** is the same handler without a vault (`alter-bench floor`), "
        "calling the demo API with one fixed access token. All three call DevVault's demo API."
    )
    out.append("")
    out.extend(load_table(chat, ["rust", "python", "floor"], {"rust": "Rust", "python": "Python", "floor": "Floor"}))
    out.append("")
    out.extend(ratio_table(chat, "rust", "python", "Rust vs Python"))
    out.append("")
    out.append("## `POST /sdk/token` alone")
    out.append("")
    out.append(
        "Signed credential requests straight to DevVault (`alter-bench load-token`), one "
        "connection: the backend round trip that each `/chat` adds to the floor."
    )
    out.append("")
    out.extend(load_table(token, ["devvault"], {"devvault": "DevVault"}))
    out.append("")
    out.append("## MCP `tools/call`")
    out.append("")
    out.append(
        "JSON-RPC `tools/call` of `whoami` over streamable HTTP, stateless with JSON responses, "
        "one POST per call. **Rust** is the MCP example (`alter_examples::mcp_server`) with "
        "`#[alter::tool]`; **Python** is `bench/python/mcp_app.py`, FastMCP with `AlterMCP`. A "
        "response counts only when it carries the user's account, so a tool error is an error."
    )
    out.append("")
    out.extend(load_table(mcp, ["rust", "python"], {"rust": "Rust", "python": "Python"}))
    out.append("")
    out.extend(ratio_table(mcp, "rust", "python", "Rust vs Python"))
    out.append("")
    out.append("## Memory")
    out.append("")
    out.append(
        "Resident memory of the quickstart process (`VmRSS`, and its peak `VmHWM`, from "
        "`/proc/<pid>/status`)."
    )
    out.append("")
    out.append("| State | VmRSS | VmHWM |")
    out.append("|---|---|---|")
    labels = {
        "idle": "idle, after start-up",
        "after_setup": f"after the setup of {settings['users']} users",
        "open_connections": f"{settings['hold_connections']} open connections, one request each",
    }
    for state, label in labels.items():
        value = memory.get(state)
        if value:
            out.append(
                f"| {label} | {value['rss_kb'] / MEGABYTE_KB:.1f} MiB | "
                f"{value['hwm_kb'] / MEGABYTE_KB:.1f} MiB |"
            )
    out.append("")
    notes = error_notes(("`/chat`", chat), ("`/sdk/token`", token), ("MCP", mcp))
    if notes:
        out.append("## Errors")
        out.append("")
        out.extend(notes)
        out.append("")
    if os.path.exists(profile_path):
        with open(profile_path, encoding="utf-8") as profile:
            out.append(profile.read().rstrip())
            out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
