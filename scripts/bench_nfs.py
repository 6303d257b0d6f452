#!/usr/bin/env python3
"""Benchmark ha-sync, rsync and rclone where they run: both trees behind NFS-like latency.

Both the source and the destination are mounted through latencyfs (a FUSE passthrough from
../shared/tools/latencyfs that sleeps before answering each request, with a cold attribute
cache, like a CronJob pod's fresh NFS mount). Every tool runs with its defaults on the same
prepared trees, the tools take turns in a rotating order, each run gets fresh mounts, and the
result trees are compared before any number is printed. Needs root and /dev/fuse.

Scenarios (see docs/performance.md):
  a  initial copy of N small files (1-16 KiB), 100 per directory
  b  re-run with nothing changed
  c  re-run after 1% of the files changed content (same size, newer mtime)
  d  re-run after 1% of the files were deleted on the source (delete propagation on)
  e  initial copy of a few large files under a bandwidth cap (--big-count 0 skips it)
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the local-disk benchmark's helpers)

ROOT = bench.ROOT
LATENCYFS_SOURCE = os.environ.get("HA_SYNC_LATENCYFS_SRC", os.path.join(ROOT, "..", "shared", "tools", "latencyfs"))


def build_latencyfs(out):
    """Builds latencyfs into the build folder (never into shared/, which CI mounts read-only)."""
    if os.path.exists(out):
        return
    script = os.path.join(LATENCYFS_SOURCE, "build.sh")
    if not os.path.exists(script):
        sys.exit(f"latencyfs sources not found at {LATENCYFS_SOURCE} (set HA_SYNC_LATENCYFS_SRC)")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["bash", script, out], check=True, stdout=subprocess.DEVNULL)


class Mounts:
    """Mounts a source and a destination behind latencyfs for one run, and unmounts them."""

    def __init__(self, latencyfs, options, work):
        self.latencyfs = latencyfs
        self.options = options
        self.points = [os.path.join(work, "mnt", "src"), os.path.join(work, "mnt", "dest")]

    def __enter__(self):
        return self

    def mount(self, source, destination):
        for backing, point in zip([source, destination], self.points):
            os.makedirs(point, exist_ok=True)
            subprocess.run([self.latencyfs, *self.options, backing, point], check=True)
        return self.points

    def unmount(self):
        for point in self.points:
            subprocess.run(["fusermount3", "-u", point], stderr=subprocess.DEVNULL)

    def __exit__(self, *_):
        self.unmount()


def tools(binary, logs):
    # Defaults for every tool: that is what the targets are about.
    return {
        "ha-sync": lambda s, d, delete: [binary, "--src", s, "--dest", d, "--pair", "bench", "--log-dir", logs, "--no-progress"]
        + (["--delete-missing"] if delete else []),
        "rsync": lambda s, d, delete: ["rsync", "-a", "-W", s + "/", d + "/"] + (["--delete"] if delete else []),
        "rclone": lambda s, d, delete: ["rclone", "sync", s, d],
    }


def copy_tree(source, destination):
    shutil.rmtree(destination, ignore_errors=True)
    subprocess.run(["cp", "-a", source, destination], check=True)


def delete_one_percent(path, seed=3):
    everything = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(path) for f in fs)
    step = 100
    for name in everything[::step]:
        os.remove(name)
    return len(everything[::step])


def same_trees(left, right):
    result = subprocess.run(["diff", "-rq", left, right], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return result.returncode == 0, result.stdout.decode(errors="replace")[:2000]


def run_scenario(title, mounts, commands, source, prepare_destination, delete, expected, rounds, work):
    samples = {tool: [] for tool in commands}
    order = list(commands)
    for round_index in range(rounds):
        for tool in order[round_index % len(order):] + order[:round_index % len(order)]:
            destination = os.path.join(work, "backing", f"dest-{tool}")
            prepare_destination(destination)
            subprocess.run(["sync"])
            mounted_source, mounted_destination = mounts.mount(source, destination)
            try:
                seconds, rss = bench.run(commands[tool](mounted_source, mounted_destination, delete), f"{tool} ({title})")
            finally:
                mounts.unmount()
            same, difference = same_trees(expected, destination)
            if not same:
                sys.exit(f"{tool} left a tree that differs from the expected one in {title}:\n{difference}")
            samples[tool].append((seconds, rss))
    bench.report(title, bench.median_rows(samples))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=os.path.join(ROOT, "bench-nfs"), help="scratch directory")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/ha-sync"))
    parser.add_argument("--latencyfs", default=os.path.join(ROOT, ".build/latencyfs/latencyfs"))
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--meta-us", type=int, default=500)
    parser.add_argument("--data-us", type=int, default=500)
    parser.add_argument("--bandwidth-mbps", type=float, default=1000, help="cap for scenario (e)")
    parser.add_argument("--big-count", type=int, default=8)
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median is reported")
    parser.add_argument("--scenarios", default="abcde")
    args = parser.parse_args()

    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        sys.exit("bench-nfs mounts FUSE file systems: run it as root on a machine with /dev/fuse")
    for tool in ["rsync", "rclone", "fusermount3"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install rsync rclone fuse3")
    build_latencyfs(args.latencyfs)

    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    backing = os.path.join(work, "backing")
    logs = os.path.join(work, "logs")
    os.makedirs(backing)
    os.makedirs(logs)
    options = ["--meta-us", str(args.meta_us), "--data-us", str(args.data_us), "-o", "allow_other"]
    print(f"machine: {os.cpu_count()} cores; latency {args.meta_us} us per metadata request, {args.data_us} us per read/write; "
          f"{args.files} files; {args.rounds} round(s)")

    source = os.path.join(backing, "src")
    bench.make_small_tree(source, args.files, max(1, args.files // 100))
    commands = tools(os.path.abspath(args.binary), logs)
    try:
        with Mounts(args.latencyfs, options, work) as mounts:
            if "a" in args.scenarios:
                run_scenario("(a) initial copy", mounts, commands, source,
                             lambda d: (shutil.rmtree(d, ignore_errors=True), os.makedirs(d)), False, source, args.rounds, work)
            if "b" in args.scenarios:
                run_scenario("(b) re-run, nothing changed", mounts, commands, source,
                             lambda d: copy_tree(source, d), False, source, args.rounds, work)
            if "c" in args.scenarios:
                changed = os.path.join(backing, "src-changed")
                copy_tree(source, changed)
                count = bench.change_one_percent(changed)
                run_scenario(f"(c) re-run, 1% changed ({count} files)", mounts, commands, changed,
                             lambda d: copy_tree(source, d), False, changed, args.rounds, work)
            if "d" in args.scenarios:
                pruned = os.path.join(backing, "src-deleted")
                copy_tree(source, pruned)
                count = delete_one_percent(pruned)
                run_scenario(f"(d) re-run, 1% deleted ({count} files)", mounts, commands, pruned,
                             lambda d: copy_tree(source, d), True, pruned, args.rounds, work)
            if "e" in args.scenarios and args.big_count > 0:
                big = os.path.join(backing, "big")
                os.makedirs(big)
                for index in range(args.big_count):
                    with open(os.path.join(big, f"image-{index}.bin"), "wb") as out:
                        for _ in range(args.big_mib):
                            out.write(os.urandom(1 << 20))
                capped = Mounts(args.latencyfs, options + ["--bandwidth-mbps", str(args.bandwidth_mbps)], work)
                total_bits = args.big_count * args.big_mib * (1 << 20) * 8
                # Each mount has its own cap; reading the source and writing the destination overlap.
                floor = total_bits / (args.bandwidth_mbps * 1e6)
                print(f"\n(e) floor: {floor:.1f} s ({args.big_count} x {args.big_mib} MiB through a "
                      f"{args.bandwidth_mbps:g} Mbit/s cap on each side)")
                run_scenario("(e) initial copy, large files, bandwidth cap", capped, commands, big,
                             lambda d: (shutil.rmtree(d, ignore_errors=True), os.makedirs(d)), False, big, args.rounds, work)
    finally:
        subprocess.run(["fusermount3", "-u", os.path.join(work, "mnt", "src")], stderr=subprocess.DEVNULL)
        subprocess.run(["fusermount3", "-u", os.path.join(work, "mnt", "dest")], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
