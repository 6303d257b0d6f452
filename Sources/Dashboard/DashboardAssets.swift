/// The dashboard's pages, script and stylesheet, compiled into the binary: nothing is
/// loaded from anywhere else, which the Content-Security-Policy enforces.
enum DashboardAssets {
    static func indexPage(_ configuration: DashboardConfiguration) -> String {
        #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>HA Sync</title>
        <link rel="stylesheet" href="/static/style.css">
        <script src="/static/app.js" defer></script>
        </head>
        <body data-page="dashboard" data-refresh-seconds="\#(configuration.refreshSeconds)" data-recent="\#(configuration.recentRuns)">
        <header>
          <h1>HA Sync</h1>
          <nav><a href="/how-it-works">How it works</a></nav>
          <span id="updated" class="muted"></span>
        </header>
        <main>
          <div id="store-status" class="banner" hidden></div>
          <section>
            <h2>Pairs</h2>
            <div id="pairs" class="cards"><p class="muted">Loading…</p></div>
          </section>
          <section>
            <h2>Recent activity</h2>
            <div class="scroll">
              <table id="activity">
                <thead><tr><th>Started</th><th>Pair</th><th>Direction</th><th>Status</th><th>Created</th><th>Updated</th><th>Deleted</th><th>Failed</th><th>Conflicts</th><th>Versions kept / pruned</th><th>Bytes</th><th>Took</th></tr></thead>
                <tbody></tbody>
              </table>
            </div>
            <p class="muted">Select a run to see its operations.</p>
          </section>
          <section id="details" hidden>
            <h2 id="details-title"></h2>
            <p id="details-error" class="error-text"></p>
            <label><input type="checkbox" id="errors-only"> Errors only</label>
            <div class="scroll">
              <table id="operations">
                <thead><tr><th>#</th><th>Operation</th><th>Path</th><th>Size before</th><th>Size after</th><th>Status</th><th>Error</th></tr></thead>
                <tbody></tbody>
              </table>
            </div>
            <button id="more" type="button" hidden>Load more</button>
          </section>
        </main>
        </body>
        </html>
        """#
    }

    static let stylesheet = #"""
        :root { --bg: #f6f7f9; --card: #fff; --text: #1d232b; --muted: #66707c; --line: #dde1e6; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --dry: #0b5cad; }
        @media (prefers-color-scheme: dark) {
          :root { --bg: #0f1318; --card: #171c23; --text: #e3e7ec; --muted: #94a0ad; --line: #2a313a; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --dry: #58a6ff; }
        }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
        header { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
        header h1 { margin: 0; font-size: 20px; }
        header a { color: var(--dry); }
        main { max-width: 1200px; margin: 0 auto; padding: 16px; }
        h2 { font-size: 16px; margin: 24px 0 10px; }
        .muted { color: var(--muted); }
        .banner { border: 1px solid var(--bad); color: var(--bad); background: var(--card); padding: 10px 14px; border-radius: 8px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
        .pair-card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px; }
        .pair-card.bad { border: 2px solid var(--bad); }
        .pair-card h3 { margin: 0 0 8px; font-size: 16px; display: flex; justify-content: space-between; gap: 8px; }
        .direction { border-top: 1px solid var(--line); padding: 8px 0; }
        .direction h4 { margin: 0 0 4px; font-size: 13px; }
        .run { margin: 2px 0; }
        .badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 0 7px; border-radius: 9px; border: 1px solid currentColor; }
        .badge-dry { color: var(--dry); }
        .badge-conflict { color: var(--warn); }
        .state-ok, .status-success { color: var(--ok); }
        .state-failed, .status-failed, .status-partial_failure, .status-fail { color: var(--bad); font-weight: 600; }
        .state-stale, .state-never, .status-running, .state-running { color: var(--warn); }
        .running-bar { width: 6em; height: 0.8em; vertical-align: middle; }
        figure.chart-figure { margin: 6px 0 0; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg.chart .axis { fill: none; stroke: var(--line); stroke-width: 1; }
        svg.chart .axis-label { font-size: 9px; fill: var(--muted); }
        svg.chart .axis-label.time { fill: var(--warn); }
        svg.chart .bar { fill: var(--dry); opacity: 0.7; }
        svg.chart .bar.failed { fill: var(--bad); opacity: 0.85; }
        svg.chart .bar.dry { opacity: 0.35; }
        svg.chart .hit { fill: transparent; cursor: pointer; }
        svg.chart .line { fill: none; stroke: var(--warn); stroke-width: 1.5; pointer-events: none; }
        svg.chart .dot { fill: var(--warn); pointer-events: none; }
        .chart-value { font-size: 12px; color: var(--muted); margin-top: 2px; }
        details.conflicts { margin-top: 8px; font-size: 13px; }
        details.conflicts summary { cursor: pointer; color: var(--warn); font-weight: 600; }
        .table-wrap { overflow-x: auto; }
        table.conflict-table, table.fan-out { font-size: 12px; margin-top: 4px; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; background: var(--card); }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        td.filepath, td.error { white-space: normal; word-break: break-all; }
        tr.clickable { cursor: pointer; }
        tr.clickable:hover, tr.selected { background: rgba(88, 166, 255, 0.12); }
        tr.failed td { color: var(--bad); }
        .error-text { color: var(--bad); }
        button { margin: 10px 0; padding: 6px 14px; }
        article.explain { max-width: 820px; }
        article.explain li { margin-bottom: 6px; }
        code { background: var(--card); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; }
        """#
}
