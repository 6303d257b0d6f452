#!/usr/bin/env python3
"""Fan-out benchmark: one source to three local destinations in one ha-sync run, against
the same run to one destination and against three rsyncs one after the other (one run).

Target (docs/performance.md): the fan-out to three takes at most 1.5x one destination,
thanks to one walk of the source and the destinations written in parallel.

Scenarios:
  a  initial copy of N small files (1-16 KiB) in D directories
  b  re-run with nothing changed
  c  re-run after 1% of the files changed
Absolute times on a shared machine mean little: read the ratios.

With --meta-us N (root, /dev/fuse), every destination is behind its own latencyfs mount that
adds N microseconds to each metadata request (and --data-us to each read or write): separate
servers reached over a network, as the caches of a fan-out are, rather than three folders
sharing this machine's disk and cores.
"""

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the local-disk benchmark's helpers)
import bench_nfs  # noqa: E402  (latencyfs)

ROOT = bench.ROOT


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=os.path.join(ROOT, "bench-data", "fan-out"), help="scratch directory")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--destinations", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "ha-sync"))
    parser.add_argument("--meta-us", type=int, default=0, help="latency per metadata request on each destination (latencyfs)")
    parser.add_argument("--data-us", type=int, default=0, help="latency per read or write on each destination (with --meta-us)")
    parser.add_argument("--latencyfs", default=os.path.join(ROOT, ".build/latencyfs/latencyfs"))
    parser.add_argument("--no-rsync", action="store_true", help="leave out the rsyncs (slow behind high latency)")
    args = parser.parse_args()
    if args.meta_us:
        bench_nfs.build_latencyfs(args.latencyfs)
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} missing: run `swift build -c release --product ha-sync` (make bench-fanout does)")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    source = os.path.join(args.work, "src")
    logs = os.path.join(args.work, "logs")
    where = f"each destination behind latencyfs ({args.meta_us} us per metadata request)" if args.meta_us else "local disk"
    print(f"machine: {os.cpu_count()} cores; {where}; making {args.files} files in {args.dirs} folders ...", flush=True)
    bench.make_small_tree(source, args.files, args.dirs)

    def destinations(tool):
        return [os.path.join(args.work, tool, f"d{index}") for index in range(args.destinations)]

    def fresh(paths):
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)

    base = [args.binary, "--src", source, "--log-dir", logs, "--workers", str(args.workers), "--no-progress"]
    single_dest = os.path.join(args.work, "single", "d0")
    tools = {
        "ha-sync, 1 destination": (lambda: [base + ["--pair", "single", "--dest", single_dest]], [single_dest]),
        f"ha-sync fan-out to {args.destinations}": (
            lambda: [base + ["--pair", "fan"] + [x for d in destinations("fan") for x in ("--dest", d)]], destinations("fan")),
    }
    if not args.no_rsync:
        tools[f"rsync x{args.destinations}, one after another"] = (
            lambda: [["rsync", "-a", "--whole-file", source + "/", d + "/"] for d in destinations("rsync")], destinations("rsync"))

    def measure(scenario, prepare):
        samples = {tool: [] for tool in tools}
        for round_index in range(args.rounds):
            order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
            for tool in order:
                commands, paths = tools[tool]
                prepare(paths)
                os.sync()
                mounted = []
                if args.meta_us:
                    for path in paths:
                        # Mounted over itself: the same path, now slow.
                        subprocess.run([args.latencyfs, "--meta-us", str(args.meta_us), "--data-us", str(args.data_us),
                                        "-o", "allow_other", path, path], check=True)
                        mounted.append(path)
                try:
                    total, peak = 0.0, 0.0
                    for command in commands():
                        seconds, rss = bench.run(command, tool)
                        total += seconds
                        peak = max(peak, rss)
                    samples[tool].append((total, peak))
                finally:
                    for path in mounted:
                        subprocess.run(["fusermount3", "-u", path], stderr=subprocess.DEVNULL)
        rows = bench.median_rows(samples)
        bench.report(scenario, rows, base_tool="ha-sync, 1 destination")
        return rows

    a = measure(f"(a) initial copy of {args.files} files", fresh)
    b = measure("(b) no change", lambda paths: None)
    bench.change_one_percent(source)
    c = measure("(c) 1% changed", lambda paths: None)
    fan = f"ha-sync fan-out to {args.destinations}"
    rsync = f"rsync x{args.destinations}, one after another"
    print("\nratios (target: fan-out at most 1.5x one destination)")
    for name, rows in (("a", a), ("b", b), ("c", c)):
        single = rows["ha-sync, 1 destination"][0]
        line = f"  ({name}) fan-out / one destination: {rows[fan][0] / single:.2f}x"
        if rsync in rows:
            line += f"; {args.destinations} rsyncs / fan-out: {rows[rsync][0] / rows[fan][0]:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
