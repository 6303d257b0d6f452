#!/usr/bin/env python3
"""Loads the ha-sync-ui dashboard in headless Chromium and checks what a person would see.

Driven over the Chrome DevTools Protocol. Run by DashboardBrowserTests (swift test), which
starts ha-sync-ui on a seeded SQLite store; this script then:
  - waits for the pair cards, checks the DRY badge and that failed and stale pairs are marked;
  - opens the failed run's operations and checks the hostile file name is shown as text,
    with no injected element and no dialog;
  - inserts a new run into the store and waits for the page to show it after its refresh;
  - saves a screenshot.
Prints one line per check and a closing 'N passed, N failed'.
"""

import argparse
import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import websocket  # websocket-client, from PyPI
except ImportError:
    sys.exit("the Python package websocket-client is missing: pip install websocket-client")


class Browser:
    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if binary is None:
            sys.exit("chromium is missing: apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="ha-sync-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self.profile}",
             "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > deadline:
                sys.exit("chromium did not open its debugging port")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.2)
        return False

    def close(self):
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


class Checks:
    """Prints PASS or FAIL per check and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, condition):
        print(("PASS " if condition else "FAIL ") + name, flush=True)
        if condition:
            self.passed += 1
        else:
            self.failed += 1

    def finish(self):
        print(f"browser: {self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


def watch_live(args):
    """A real ha-sync run copies while the page is open: its card must show it running and
    its progress must advance, pushed by server-sent events (the page's own poll is set far
    longer than the wait)."""
    check = Checks()

    card = f".pair-card[data-pair={json.dumps(args.live_pair)}]"
    progress = f"(document.querySelector('{card} .progress-text') || {{}}).textContent || ''"
    browser = Browser()
    try:
        browser.call("Page.navigate", url=args.url + "/")
        check("the running sync's card shows its progress", browser.wait_for(f"{progress}.includes(' files')", 60))
        first = browser.evaluate(progress)
        check("the page says it is live", browser.wait_for("document.getElementById('updated').textContent.includes('live')", 10))
        done = f"(m => m ? Number(m[1]) : -1)(({progress}).match(/ (\\d+) of \\d+ files/))"
        start = browser.evaluate(done)
        check(f"progress advances without a poll (from {first!r})", browser.wait_for(f"{done} > {start}", 60))
        print("progress now:", browser.evaluate(progress), flush=True)
    finally:
        browser.close()
    return check.finish()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True, help="the SQLite store the dashboard reads")
    parser.add_argument("--failed-iteration", type=int)
    parser.add_argument("--hostile-name")
    parser.add_argument("--refresh-seconds", type=int, default=10)
    parser.add_argument("--screenshot")
    parser.add_argument("--live-pair", help="only watch this pair's running sync advance (pushed, not polled)")
    args = parser.parse_args()
    if args.live_pair:
        sys.exit(watch_live(args))

    check = Checks()

    browser = Browser()
    try:
        browser.call("Runtime.enable")
        browser.call("Page.navigate", url=f"{args.url}/#iteration={args.failed_iteration}")
        rendered = browser.wait_for("document.querySelectorAll('.pair-card').length === 6", 30)
        check("pair cards rendered", rendered)
        if not rendered:
            # Say why: the page's own errors.
            for event in browser.events:
                if event.get("method") == "Runtime.exceptionThrown":
                    print("page error:", json.dumps(event.get("params", {}).get("exceptionDetails", {}))[:1000], flush=True)
            print("cards:", browser.evaluate("document.querySelectorAll('.pair-card').length"), flush=True)
            print("page text:", browser.evaluate("document.body.innerText.slice(0, 600)"), flush=True)
        check("DRY badge on the dry run", browser.evaluate(
            "[...document.querySelectorAll('.pair-card[data-pair=\"media\"] .badge-dry')].some(b => b.textContent === 'DRY')"))
        check("failed pair marked", browser.evaluate("document.querySelector('.pair-card[data-pair=\"photos\"]').classList.contains('bad')"))
        check("stale pair marked", browser.evaluate("document.querySelector('.pair-card[data-pair=\"games\"]').classList.contains('bad')"))
        check("healthy pair not marked", browser.evaluate("!document.querySelector('.pair-card[data-pair=\"media\"]').classList.contains('bad')"))
        check("charts drawn", browser.evaluate("document.querySelectorAll('.pair-card svg.chart rect.bar').length >= 3"))
        check("chart axes say their units", browser.evaluate(
            "[...document.querySelectorAll('.pair-card[data-pair=\"media\"] svg.chart text')].some(t => t.textContent.endsWith('KiB'))"))
        check("a failed run's bar is marked", browser.evaluate(
            "document.querySelectorAll('.pair-card[data-pair=\"photos\"] svg.chart rect.bar.failed').length === 1"))
        check("a single run still draws its point", browser.evaluate(
            "document.querySelectorAll('.pair-card[data-pair=\"games\"] svg.chart circle.dot').length === 1"))
        browser.evaluate("document.querySelector('.pair-card[data-pair=\"photos\"] svg.chart rect.hit').dispatchEvent(new MouseEvent('click'))")
        check("tapping a run shows its values", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"photos\"] .chart-value').textContent.includes('UTC · success')"))
        check("counters in words on a wide screen", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"media\"] .run').textContent.includes('2 created, 1 updated, 0 deleted, 0 failed')"))
        check("recent activity listed", browser.evaluate("document.querySelectorAll('#activity tbody tr').length === 12"))
        check("a fan-out run has a row per destination", browser.evaluate(
            "document.querySelectorAll('.pair-card[data-pair=\"netboot\"] table.fan-out tr[data-dest]').length === 3"))
        check("the destination that failed stands out", browser.evaluate(
            "(rows => rows.length === 1 && rows[0].dataset.dest === '/srv/cache-3')"
            "([...document.querySelectorAll('.pair-card[data-pair=\"netboot\"] table.fan-out tr.failed')])"))
        check("conflicts and versions have their own columns", browser.evaluate(
            "(row => row.querySelector('td.conflicts').textContent === '1' && row.querySelector('td.versions').textContent === '3 / 2')"
            "([...document.querySelectorAll('#activity tbody tr')].find(r => r.cells[1].textContent === 'games'))"))
        check("open conflict copies listed on the pair", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"photos\"] details.conflicts summary').textContent === '1 open conflict copy'"))
        check("conflict copy names shown as text", browser.evaluate(
            f"[...document.querySelectorAll('.pair-card[data-pair=\"photos\"] .conflict-table td.filepath')].some(td => td.textContent === 'notes/' + {json.dumps(args.hostile_name)} + '.conflict-hp-20261202-120000')"))
        check("a pair with a dry run offers the compare view", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"media\"] details.compare summary') !== null"))
        browser.evaluate("(d => { d.open = true; return true; })(document.querySelector('.pair-card[data-pair=\"media\"] details.compare'))")
        check("the compare view opens on the last dry run", browser.wait_for(
            "(b => b.querySelector('select.compare-filter') !== null && b.textContent.includes('Nothing differs'))"
            "(document.querySelector('.pair-card[data-pair=\"media\"] .compare-body'))", 15))
        # The cards are rebuilt by every refresh; an open view must stay open and filled.
        browser.evaluate("(d => { d.dataset.before = 'yes'; return true; })(document.querySelector('.pair-card[data-pair=\"media\"] details.compare'))")
        check("the compare view stays open across a refresh", browser.wait_for(
            "(d => d !== null && d.dataset.before === undefined && d.open && d.querySelector('select.compare-filter') !== null)"
            "(document.querySelector('.pair-card[data-pair=\"media\"] details.compare'))", args.refresh_seconds + 15))
        check("running pair shows a progress bar", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"infra\"] progress.running-bar') !== null"))
        check("running pair shows how far it is", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"infra\"] .progress-text').textContent.startsWith('copying · 42 of 100 files · 1.0 MiB of 4.0 MiB')"))
        check("the bar is at 42 of 100", browser.evaluate(
            "(b => b.value === 42 && b.max === 100)(document.querySelector('.pair-card[data-pair=\"infra\"] progress'))"))
        check("running pair says running", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"infra\"] h3 .state-running') !== null"))
        check("a run stuck in running is stale", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"ai\"]').classList.contains('bad')"))
        check("a stale run shows no progress bar", browser.evaluate(
            "document.querySelector('.pair-card[data-pair=\"ai\"] progress') === null"))
        check("operations of the failed run shown", browser.wait_for("document.querySelectorAll('#operations tbody tr').length === 4", 15))
        hostile = json.dumps(args.hostile_name)
        check("hostile file name shown as text", browser.evaluate(
            f"[...document.querySelectorAll('#operations td.filepath')].some(td => td.textContent === {hostile})"))
        check("no injected element", browser.evaluate("document.querySelectorAll('img').length === 0"))
        check("failed operation highlighted", browser.evaluate("document.querySelectorAll('#operations tr.failed').length === 1"))
        time.sleep(0.5)
        check("no dialog opened", not any(e.get("method") == "Page.javascriptDialogOpening" for e in browser.events))

        # A new run appears after the next refresh.
        connection = sqlite3.connect(args.db)
        connection.execute(
            "INSERT INTO sync_iterations (run_id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run) "
            "VALUES ('browser-new', 'newpair', 'dell-to-hp', '/a', '/b', strftime('%Y-%m-%d %H:%M:%f', 'now'), "
            "strftime('%Y-%m-%d %H:%M:%f', 'now'), 'success', 0)")
        connection.commit()
        connection.close()
        inserted = time.time()
        shown = browser.wait_for("document.querySelector('.pair-card[data-pair=\"newpair\"]') !== null", args.refresh_seconds + 15)
        check(f"new run shown after the refresh ({time.time() - inserted:.1f} s)", shown)

        # The running run's counters grow in the store; its card follows within a few seconds
        # (the page polls every two seconds while a run is in progress).
        connection = sqlite3.connect(args.db)
        connection.execute("UPDATE sync_iterations SET files_created = 4242 WHERE run_id = 'i1'")
        connection.commit()
        connection.close()
        changed = time.time()
        advanced = browser.wait_for(
            "document.querySelector('.pair-card[data-pair=\"infra\"]').textContent.includes('4242')", 8)
        check(f"running run's progress advances on the page ({time.time() - changed:.1f} s)", advanced)

        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        with open(args.screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        check("screenshot saved", os.path.getsize(args.screenshot) > 10_000)

        # The same page at a phone's width.
        browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
        time.sleep(1)
        check("no horizontal scrolling at phone width", browser.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth + 1"))
        phone = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        phone_path = os.path.splitext(args.screenshot)[0] + "-phone.png"
        with open(phone_path, "wb") as out:
            out.write(base64.b64decode(phone["data"]))
        check("phone screenshot saved", os.path.getsize(phone_path) > 10_000)
    finally:
        browser.close()

    sys.exit(check.finish())


if __name__ == "__main__":
    main()
