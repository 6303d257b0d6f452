extension DashboardAssets {
    static let howItWorksPage = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>How HA Sync works</title>
        <link rel="stylesheet" href="/static/style.css">
        <script src="/static/app.js" defer></script>
        </head>
        <body data-page="how-it-works">
        <header>
          <h1>How HA Sync works</h1>
          <nav><a href="/">Back to the dashboard</a></nav>
        </header>
        <main>
        <article class="explain">
          <h2>What it is for</h2>
          <p>Two NFS servers export the same folders. HA Sync copies changes between them so that
          either server holds everything and can take over when the other one fails. Each folder
          is a <em>pair</em>, kept in step by two one-way jobs that run every quarter of an hour,
          seven minutes apart: one from the first server to the second, one back.</p>

          <h2>The pairs</h2>
          <p>As recorded by their latest runs:</p>
          <div class="scroll">
            <table id="hiw-pairs">
              <thead><tr><th>Pair</th><th>Direction</th><th>From</th><th>To</th></tr></thead>
              <tbody><tr><td colspan="4" class="muted">No runs recorded yet.</td></tr></tbody>
            </table>
          </div>

          <h2>One run, step by step</h2>
          <ol>
            <li><strong>Take the pair's lock.</strong> Both directions of a pair share one lock, so they never
            run at the same time. A run that finds the lock taken exits at once and counts as a success: the
            other direction simply has not finished yet.</li>
            <li><strong>Walk both folders together,</strong> directory by directory, comparing each name on
            the two sides as soon as both listings are in. Copies start while the walk is still going.</li>
            <li><strong>Decide per file:</strong> missing on the destination means copy; newer on the source
            means copy; newer on the destination means leave it (the reverse job will bring it back); the same
            size and a modification time within two seconds means nothing to do. When only the time differs,
            both copies are hashed: identical content gets the source's time and no copy.</li>
            <li><strong>Copy safely.</strong> Data goes to a temporary file next to the destination, gets the
            source's permissions and modification time, and is renamed into place. Nobody ever sees half a
            file under its real name, even if the run is killed. A file that changes while it is copied is
            left for the next run.</li>
            <li><strong>Delete last, and only when asked</strong> (see below).</li>
            <li><strong>Record everything.</strong> Each operation is written to a log file as it completes;
            after the run the file goes into the audit database this page reads. If the database is down,
            the sync still happens and the log file waits for the next run.</li>
          </ol>

          <h2>Why files do not bounce back and forth</h2>
          <p>A copy keeps the source's modification time exactly. When the reverse job looks at that file,
          both sides show the same time and size, so it does nothing. Only a real change on one side, which
          gives that side a newer time, moves a file again.</p>
          <p>If a file was changed on both servers between runs, the more recently changed copy wins. Keep
          the servers' clocks in sync (NTP): the two-second tolerance covers small drift, not large.</p>

          <h2>Dry runs</h2>
          <p>With <code>--dry-run</code> a run works out exactly what it would do and records it with a
          <span class="badge badge-dry">DRY</span> mark, without touching a file. When nothing has changed
          since the last successful dry run, a new one says so and records nothing, so repeated dry runs
          do not fill the database. Real runs never look at dry-run records.</p>

          <h2>Turning on real sync</h2>
          <ol>
            <li>Start with dry runs in both directions and read what they plan.</li>
            <li>Remove <code>--dry-run</code> from a pair's two jobs
            (<code>kubectl -n infrastructure edit cronjob ha-sync-&lt;pair&gt;-&lt;direction&gt;</code>).</li>
            <li>Wait for a full round in both directions that has nothing left to do.</li>
          </ol>

          <h2>Deletes</h2>
          <p>By default nothing is ever deleted. With <code>--delete-missing</code> a job removes what is gone
          from its source. Because the jobs run one after the other, turn it on for <strong>one direction per
          pair only</strong>, the primary one, and only after both sides are equal; otherwise a file that exists
          only on the second server could be deleted before it is copied. Deletes are also refused outright when
          the source folder looks empty (an unmounted share) or when a run would delete more than half of the
          destination's files, unless that limit is raised for the run.</p>

          <h2>Where it runs</h2>
          <table>
            <tbody>
              <tr><td>Jobs</td><td>Kubernetes CronJobs in the <code>infrastructure</code> namespace, two per pair</td></tr>
              <tr><td>Storage</td><td>Both servers' exports mounted over NFS in each job</td></tr>
              <tr><td>Audit</td><td>MySQL (<code>general_db</code>), or SQLite outside the cluster</td></tr>
              <tr><td>This page</td><td><code>ha-sync-ui</code>, which only reads the audit database and refreshes every few seconds</td></tr>
            </tbody>
          </table>
        </article>
        </main>
        </body>
        </html>
        """#
}
