#!/usr/bin/env python3
"""Benchmark ha-sync's remote peer against rsync over the same shaped network link.

Two network namespaces joined by a veth pair, so every request crosses a real TCP link.
The link gets its latency from tc netem (half the RTT each way) where the kernel has it, and
otherwise from a small delaying TCP relay in the server namespace that both tools go
through alike; its rate cap comes from netem or tbf. The
server namespace runs `ha-sync serve` and an rsync daemon over the same data; the client
namespace runs `ha-sync --dest hasync://...` and `rsync -a SRC/ rsync://...`. Each scenario
prepares identical destinations for both tools, times them (and their peak RSS), checks the
result trees, and prints ratios (rsync's time / ha-sync's). For the no-change run it also times
ha-sync's one-way run over two latencyfs mounts with the same per-operation latency, the NFS
setup the peer replaces. Needs root, iproute2 (ip, tc), rsync and /dev/fuse.

Scenarios (docs/performance.md):
  a  initial copy of N small files (1-16 KiB), 100 per directory
  b  re-run with nothing changed
  c  re-run after 1% of the files changed content
  d  one large file (default 1 GiB) with 1 MiB changed in the middle
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import bench_nfs  # noqa: E402

ROOT = bench.ROOT
CLIENT_NS, SERVER_NS = "hasync-bench-c", "hasync-bench-s"
CLIENT_IP, SERVER_IP = "10.77.0.1", "10.77.0.2"
# Set when the kernel has no netem: latency then comes from relay() below.
NEEDS_RELAY = False


def relay(listen_port, target_port, delay):
    """Forwards TCP from SERVER_IP:listen_port to 127.0.0.1:target_port, holding every chunk
    for `delay` seconds in each direction (order kept): latency without netem."""
    import asyncio

    async def forward(reader, writer):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def take():
            while True:
                data = await reader.read(256 * 1024)
                queue.put_nowait((loop.time() + delay, data))
                if not data:
                    return

        async def give():
            while True:
                due, data = await queue.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(take(), give())
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(forward(client_reader, server_writer), forward(server_reader, client_writer))

    async def main():
        server = await asyncio.start_server(handle, SERVER_IP, listen_port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def make_link(rtt_ms, rate):
    teardown_link()
    sh("ip", "netns", "add", CLIENT_NS)
    sh("ip", "netns", "add", SERVER_NS)
    sh("ip", "link", "add", "hsb-c", "netns", CLIENT_NS, "type", "veth", "peer", "name", "hsb-s", "netns", SERVER_NS)
    for ns, dev, ip in ((CLIENT_NS, "hsb-c", CLIENT_IP), (SERVER_NS, "hsb-s", SERVER_IP)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Half the round trip each way, and the rate cap, on each end's egress.
        netem = sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "netem",
                   "delay", f"{rtt_ms / 2}ms", "rate", rate, "limit", "100000", check=False)
        if netem.returncode != 0:
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms")
            global NEEDS_RELAY
            NEEDS_RELAY = True


def teardown_link():
    for ns in (CLIENT_NS, SERVER_NS):
        sh("ip", "netns", "del", ns, check=False)


def in_ns(ns, cmd):
    return ["ip", "netns", "exec", ns] + cmd


def measured_rtt():
    out = sh(*in_ns(CLIENT_NS, ["ping", "-c", "5", "-i", "0.2", SERVER_IP]), check=False).stdout
    for line in out.splitlines():
        if "rtt" in line:
            return line.split("=")[1].split("/")[1] + " ms"
    return "unknown (no ping)"


class Servers:
    """ha-sync serve and an rsync daemon in the server namespace, over two folders."""

    def __init__(self, binary, work, hasync_root, rsync_root, rtt_ms):
        self.work = work
        pki = os.path.join(work, "pki")
        subprocess.run([binary, "certificate", "--dir", pki, "--host", SERVER_IP], check=True, stdout=subprocess.DEVNULL)
        self.token = os.path.join(work, "token")
        with open(self.token, "w") as out:
            out.write(os.urandom(24).hex() + "\n")
        self.ca = os.path.join(pki, "ca.pem")
        self.serve_log = open(os.path.join(work, "serve.log"), "w")
        # Behind the relay the servers listen on loopback and the relay on the public ports.
        self.relays = []
        listen_ip = "127.0.0.1" if NEEDS_RELAY else SERVER_IP
        if NEEDS_RELAY:
            for public, private in ((7443, 17443), (873, 1873)):
                self.relays.append(subprocess.Popen(in_ns(SERVER_NS, [
                    sys.executable, os.path.abspath(__file__), "--relay", str(public), str(private), str(rtt_ms / 2000)])))
        self.serve = subprocess.Popen(in_ns(SERVER_NS, [
            binary, "serve", "--listen", f"{listen_ip}:{17443 if NEEDS_RELAY else 7443}", "--root", f"bench={hasync_root}",
            "--tls-cert", os.path.join(pki, "server.pem"), "--tls-key", os.path.join(pki, "server-key.pem"),
            "--token-file", self.token]), stdout=self.serve_log, stderr=self.serve_log)
        conf = os.path.join(work, "rsyncd.conf")
        with open(conf, "w") as out:
            out.write(f"pid file = {work}/rsyncd.pid\nuse chroot = no\n[bench]\npath = {rsync_root}\n"
                      "read only = no\nuid = root\ngid = root\n")
        subprocess.run(in_ns(SERVER_NS, ["rsync", "--daemon", "--config", conf, "--address", listen_ip,
                                         "--port", str(1873 if NEEDS_RELAY else 873)]), check=True)
        deadline = time.time() + 30
        while "serving" not in open(os.path.join(work, "serve.log")).read():
            if time.time() > deadline or self.serve.poll() is not None:
                sys.exit("ha-sync serve did not start:\n" + open(os.path.join(work, "serve.log")).read())
            time.sleep(0.1)

    def server_rss_mib(self):
        with open(f"/proc/{self.serve_pid()}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def reset_server_peak(self):
        # Linux: writing 5 resets the peak RSS (VmHWM) to the current RSS, so each scenario's
        # peak is its own.
        with open(f"/proc/{self.serve_pid()}/clear_refs", "w") as refs:
            refs.write("5")

    def serve_pid(self):
        # `ip netns exec` execs the command: the Popen's pid is the server's.
        return self.serve.pid

    def received_bytes(self):
        out = sh(*in_ns(CLIENT_NS, ["curl", "-sk", f"https://{SERVER_IP}:7443/metrics"]), check=False).stdout
        for line in out.splitlines():
            if line.startswith('ha_sync_serve_received_bytes_total{root="bench"}'):
                return float(line.split()[-1])
        return float("nan")

    def stop(self):
        self.serve.send_signal(signal.SIGTERM)
        try:
            self.serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.serve.kill()
        for relay_process in self.relays:
            relay_process.kill()
        pid_file = os.path.join(self.work, "rsyncd.pid")
        if os.path.exists(pid_file):
            os.kill(int(open(pid_file).read().strip()), signal.SIGTERM)


def refill(folder, source=None):
    """Empties `folder` in place (the server holds its root open) and copies `source` into it."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    if source:
        shutil.copytree(source, folder, symlinks=True, dirs_exist_ok=True)


def write_big(path, size, seed=7):
    block = bytes((i * 31 + seed) & 0xFF for i in range(1 << 20))
    rng = bench.random.Random(seed)
    with open(path, "wb") as out:
        for index in range(size >> 20):
            # Blocks differ from each other, so a delta cannot match the wrong one.
            out.write(rng.randbytes(64) + block[64:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--rtt-ms", type=float, default=1.0)
    parser.add_argument("--rate", default="1gbit")
    parser.add_argument("--work", default=os.path.join(ROOT, "bench-data", "remote"))
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "ha-sync"))
    parser.add_argument("--skip-nfs", action="store_true", help="skip the latencyfs comparison of (b)")
    parser.add_argument("--hasync-arg", action="append", default=[], help="extra ha-sync option (repeatable)")
    parser.add_argument("--tmpfs", metavar="SIZE",
                        help="put the trees on a tmpfs of this size (e.g. 12g): on ext4, whichever tool creates files "
                             "first after a large delete pays for the allocator skipping recently freed inodes")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_remote.py needs root (network namespaces, tc)")
    for tool in ("ip", "tc", "rsync", "curl", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"missing: {tool} (apt-get install iproute2 rsync curl time)")

    work = args.work
    if os.path.ismount(work):
        sh("umount", work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if args.tmpfs:
        sh("mount", "-t", "tmpfs", "-o", f"size={args.tmpfs}", "tmpfs", work)
    source = os.path.join(work, "src")
    hasync_dest = os.path.join(work, "dest-hasync")
    rsync_dest = os.path.join(work, "dest-rsync")
    logs = os.path.join(work, "logs")
    for folder in (hasync_dest, rsync_dest):
        os.makedirs(folder)
    print(f"# making {args.files} small files")
    bench.make_small_tree(source, args.files, max(1, args.files // 100))

    make_link(args.rtt_ms, args.rate)
    servers = Servers(args.binary, work, hasync_dest, rsync_dest, args.rtt_ms)
    rows = []
    try:
        how = "a delaying relay (no netem in this kernel) and tbf" if NEEDS_RELAY else "netem"
        print(f"# link: {args.rate}, {args.rtt_ms} ms RTT through {how}; ping RTT on the bare link {measured_rtt()}")
        hasync = lambda src, extra=(): in_ns(CLIENT_NS, [
            args.binary, "--src", src, "--dest", f"hasync://{SERVER_IP}:7443/bench", "--pair", "bench", "--log-dir", logs,
            "--no-progress", "--peer-token-file", servers.token, "--peer-ca", servers.ca, *args.hasync_arg, *extra])
        rsync = lambda src: in_ns(CLIENT_NS, ["rsync", "-a", src + "/", f"rsync://{SERVER_IP}/bench/"])

        def scenario(title, src):
            # Write back what preparing the trees left dirty, so neither tool pays for it.
            os.sync()
            servers.reset_server_peak()
            t_h, rss_h = bench.run(hasync(src), "ha-sync")
            rss_s = servers.server_rss_mib()
            os.sync()
            t_r, rss_r = bench.run(rsync(src), "rsync")
            for dest in (hasync_dest, rsync_dest):
                same, difference = bench_nfs.same_trees(src, dest)
                if not same:
                    sys.exit(f"{title}: {dest} differs from the source:\n{difference}")
            rows.append((title, t_h, rss_h, rss_s, t_r, rss_r))
            print(f"{title}: ha-sync {t_h:.2f} s ({rss_h:.0f} MiB, server {rss_s:.0f} MiB), rsync {t_r:.2f} s ({rss_r:.0f} MiB): "
                  f"rsync/ha-sync {t_r / t_h:.2f}x", flush=True)
            return t_h

        scenario(f"(a) initial copy, {args.files} files", source)
        no_change = scenario("(b) no change", source)
        changed = os.path.join(work, "changed")
        shutil.copytree(source, changed, symlinks=True)
        count = bench.change_one_percent(changed)
        for dest in (hasync_dest, rsync_dest):
            refill(dest, source)
        scenario(f"(c) 1% changed ({count} files)", changed)

        big_src = os.path.join(work, "big-src")
        os.makedirs(big_src)
        big = os.path.join(big_src, "disk.img")
        print(f"# writing a {args.big_mib} MiB file")
        write_big(big, args.big_mib << 20)
        for dest in (hasync_dest, rsync_dest):
            refill(dest)
            shutil.copy2(big, os.path.join(dest, "disk.img"))
        with open(big, "r+b") as out:
            out.seek((args.big_mib << 20) // 2)
            out.write(os.urandom(1 << 20))
        # Clearly newer than the copies (ha-sync's default mtime threshold is a few seconds).
        later = os.stat(big).st_mtime + 60
        os.utime(big, (later, later))
        before = servers.received_bytes()
        scenario(f"(d) {args.big_mib} MiB file, 1 MiB changed", big_src)
        sent = servers.received_bytes() - before
        print(f"(d) ha-sync sent {sent / (1 << 20):.2f} MiB = {100 * sent / (args.big_mib << 20):.2f}% of the file")

        if not args.skip_nfs:
            latencyfs = os.path.join(ROOT, ".build", "latencyfs", "latencyfs")
            bench_nfs.build_latencyfs(latencyfs)
            mirror = os.path.join(work, "nfs-dest")
            shutil.copytree(source, mirror, symlinks=True)
            options = ["--meta-us", str(int(args.rtt_ms * 1000)), "--data-us", str(int(args.rtt_ms * 1000))]
            with bench_nfs.Mounts(latencyfs, options, work) as mounts:
                s, d = mounts.mount(source, mirror)
                t_nfs, _ = bench.run([args.binary, "--src", s, "--dest", d, "--pair", "nfs", "--log-dir", logs, "--no-progress"], "ha-sync nfs")
            print(f"(b) over two latencyfs mounts ({args.rtt_ms} ms per operation): {t_nfs:.2f} s; "
                  f"remote peer is {t_nfs / no_change:.1f}x faster")
    finally:
        servers.stop()
        teardown_link()
        if args.tmpfs:
            sh("umount", "-l", work, check=False)
    print("\n| scenario | ha-sync | rsync daemon | rsync / ha-sync | peak RSS client / server / rsync |")
    print("|---|---|---|---|---|")
    for title, t_h, rss_h, rss_s, t_r, rss_r in rows:
        print(f"| {title} | {t_h:.2f} s | {t_r:.2f} s | {t_r / t_h:.2f}x | {rss_h:.0f} / {rss_s:.0f} / {rss_r:.0f} MiB |")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--relay":
        relay(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
