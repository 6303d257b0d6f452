extension DashboardAssets {
    /// The dashboard's behaviour. Every value from the server is inserted with
    /// `textContent` (never as HTML), so a file named `<img onerror=...>` is only text.
    static let script = #"""
        'use strict';
        (() => {
          const body = document.body;
          const refreshSeconds = Number(body.dataset.refreshSeconds || 10);
          const recent = Number(body.dataset.recent || 20);
          let selected = null;
          let nextAfter = null;

          function el(tag, className, text) {
            const node = document.createElement(tag);
            if (className) node.className = className;
            if (text !== undefined && text !== null) node.textContent = String(text);
            return node;
          }

          async function getJSON(url) {
            const response = await fetch(url, { cache: 'no-store' });
            let payload = null;
            try { payload = await response.json(); } catch (e) { payload = null; }
            if (!response.ok) throw new Error((payload && payload.error) || response.statusText);
            return payload;
          }

          function bytes(n) {
            const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
            let value = Number(n || 0), unit = 0;
            while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
            return (unit === 0 ? String(Math.round(value)) : value.toFixed(1)) + ' ' + units[unit];
          }

          function ago(iso) {
            if (!iso) return 'never';
            const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
            if (seconds < 90) return Math.round(seconds) + ' s ago';
            if (seconds < 5400) return Math.round(seconds / 60) + ' min ago';
            if (seconds < 129600) return Math.round(seconds / 3600) + ' h ago';
            return Math.round(seconds / 86400) + ' days ago';
          }

          function took(run) {
            if (run.status === 'running') {
              const s = Math.max(0, (Date.now() - Date.parse(run.started_at)) / 1000);
              return 'for ' + (s < 60 ? Math.round(s) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s');
            }
            if (run.duration_seconds === null || run.duration_seconds === undefined) return '—';
            const s = run.duration_seconds;
            return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
          }

          function showStore(error) {
            const banner = document.getElementById('store-status');
            if (!banner) return;
            banner.hidden = !error;
            banner.textContent = error ? 'The audit store cannot be reached: ' + error : '';
          }

          function runLine(label, run, dry, live) {
            const line = el('div', 'run');
            line.appendChild(el('span', 'muted', label + ': '));
            if (!run) { line.appendChild(el('span', 'muted', 'none yet')); return line; }
            if (dry) { line.appendChild(el('span', 'badge badge-dry', 'DRY')); line.appendChild(document.createTextNode(' ')); }
            line.appendChild(el('span', 'status-' + run.status, run.status.replace('_', ' ')));
            if (run.status === 'running' && live) {
              // The row grows as the run stores its operations; the page polls faster meanwhile.
              // Totals are what the walk has found so far, so the bar can move back while it lists.
              const done = run.files_created + run.files_updated + run.files_deleted + run.files_failed;
              const bar = el('progress', 'running-bar');
              bar.setAttribute('aria-label', 'sync in progress');
              if (run.files_planned > 0) { bar.max = run.files_planned; bar.value = Math.min(done, run.files_planned); }
              line.appendChild(document.createTextNode(' '));
              line.appendChild(bar);
              const elapsed = Math.max(1, (Date.now() - Date.parse(run.started_at)) / 1000);
              line.appendChild(el('div', 'progress-text',
                (run.phase || 'starting') + ' · ' + done + ' of ' + run.files_planned + ' files · ' +
                bytes(run.bytes_transferred) + ' of ' + bytes(run.bytes_planned) + ' · ' + bytes(run.bytes_transferred / elapsed) + '/s'));
            }
            line.appendChild(document.createTextNode(
              ' · ' + ago(run.started_at) + ' · ' + took(run) + ' · ' + counts(run) + ' · ' + bytes(run.bytes_transferred)));
            if (run.versions_kept > 0 || run.versions_pruned > 0 || run.version_store_files > 0) {
              line.appendChild(el('div', 'muted',
                'versions: kept ' + run.versions_kept + ', pruned ' + run.versions_pruned + ' · store ' +
                run.version_store_files + ' files, ' + bytes(run.version_store_bytes)));
            }
            if (run.files_conflicted > 0) {
              line.appendChild(document.createTextNode(' · '));
              line.appendChild(el('span', 'badge badge-conflict', run.files_conflicted + (run.files_conflicted === 1 ? ' conflict' : ' conflicts')));
            }
            if (run.error_message) line.appendChild(el('div', 'error-text', run.error_message));
            return line;
          }

          // Bytes copied per run as bars (failed runs in red), run time as a line, both axes
          // labelled with units; hovering or tapping a run shows its values under the chart.
          function chart(runs) {
            const ns = 'http://www.w3.org/2000/svg';
            const figure = el('figure', 'chart-figure');
            const points = runs.slice().reverse();
            if (points.length === 0) return figure;
            const svg = document.createElementNS(ns, 'svg');
            svg.setAttribute('class', 'chart');
            svg.setAttribute('viewBox', '0 0 320 100');
            svg.setAttribute('role', 'img');
            svg.setAttribute('aria-label', 'bytes copied and run time of the last ' + points.length + ' runs');
            const left = 46, right = 274, top = 8, bottom = 80;
            const maxBytes = Math.max(1, ...points.map(r => r.bytes_transferred));
            const maxTime = Math.max(0.1, ...points.map(r => r.duration_seconds || 0));
            const slot = (right - left) / points.length;
            const barWidth = Math.min(24, Math.max(1, slot - 2));
            function text(x, y, value, cls, anchor) {
              const node = document.createElementNS(ns, 'text');
              node.setAttribute('x', String(x));
              node.setAttribute('y', String(y));
              node.setAttribute('class', cls);
              node.setAttribute('text-anchor', anchor);
              node.textContent = value;
              svg.appendChild(node);
            }
            const axis = document.createElementNS(ns, 'path');
            axis.setAttribute('class', 'axis');
            axis.setAttribute('d', 'M' + left + ' ' + top + ' V' + bottom + ' H' + right + ' V' + top);
            svg.appendChild(axis);
            text(left - 3, top + 6, bytes(maxBytes), 'axis-label', 'end');
            text(left - 3, bottom, '0 B', 'axis-label', 'end');
            text(right + 3, top + 6, took({ status: 'success', duration_seconds: maxTime }), 'axis-label time', 'start');
            text(right + 3, bottom, '0 s', 'axis-label time', 'start');
            text(left, bottom + 12, ago(points[0].started_at), 'axis-label', 'start');
            if (points.length > 1) text(right, bottom + 12, ago(points[points.length - 1].started_at), 'axis-label', 'end');
            const value = el('figcaption', 'chart-value', 'Bars: bytes copied per run (left axis) · line: run time (right axis). Hover or tap a run.');
            const path = [];
            points.forEach((run, index) => {
              const center = left + slot * (index + 0.5);
              const height = Math.max(run.bytes_transferred > 0 ? 1 : 0, (bottom - top) * run.bytes_transferred / maxBytes);
              const bar = document.createElementNS(ns, 'rect');
              bar.setAttribute('class', 'bar' + (run.status === 'success' || run.status === 'running' ? '' : ' failed') + (run.dry_run ? ' dry' : ''));
              bar.setAttribute('x', (center - barWidth / 2).toFixed(1));
              bar.setAttribute('y', (bottom - height).toFixed(1));
              bar.setAttribute('width', barWidth.toFixed(1));
              bar.setAttribute('height', height.toFixed(1));
              const summary = run.started_at.replace('T', ' ').slice(0, 19) + ' UTC · ' + run.status.replace('_', ' ') + (run.dry_run ? ' (dry run)' : '') +
                ' · ' + bytes(run.bytes_transferred) + ' · ' + took(run) + ' · ' + counts(run);
              const title = document.createElementNS(ns, 'title');
              title.textContent = summary;
              bar.appendChild(title);
              // A transparent column over the whole slot makes thin bars easy to tap.
              const hit = document.createElementNS(ns, 'rect');
              hit.setAttribute('class', 'hit');
              hit.setAttribute('x', (left + slot * index).toFixed(1));
              hit.setAttribute('y', String(top));
              hit.setAttribute('width', slot.toFixed(1));
              hit.setAttribute('height', String(bottom - top));
              for (const target of [bar, hit]) {
                target.addEventListener('mouseenter', () => { value.textContent = summary; });
                target.addEventListener('click', () => { value.textContent = summary; });
              }
              svg.appendChild(bar);
              svg.appendChild(hit);
              const y = bottom - (bottom - top) * (run.duration_seconds || 0) / maxTime;
              path.push((index === 0 ? 'M' : 'L') + center.toFixed(1) + ' ' + y.toFixed(1));
              if (points.length === 1) {
                const dot = document.createElementNS(ns, 'circle');
                dot.setAttribute('class', 'dot');
                dot.setAttribute('cx', center.toFixed(1));
                dot.setAttribute('cy', y.toFixed(1));
                dot.setAttribute('r', '2.5');
                svg.appendChild(dot);
              }
            });
            const line = document.createElementNS(ns, 'path');
            line.setAttribute('class', 'line');
            line.setAttribute('d', path.join(' '));
            svg.appendChild(line);
            figure.appendChild(svg);
            figure.appendChild(value);
            return figure;
          }

          // A pair's conflict copies that no later run deleted: what a person still has to look at.
          const openConflictLists = new Set();
          function conflictList(pair, conflicts) {
            const details = el('details', 'conflicts');
            details.open = openConflictLists.has(pair);
            details.addEventListener('toggle', () => { if (details.open) openConflictLists.add(pair); else openConflictLists.delete(pair); });
            details.appendChild(el('summary', 'badge-conflict-summary',
              conflicts.length + (conflicts.length === 1 ? ' open conflict copy' : ' open conflict copies')));
            const table = el('table', 'conflict-table');
            const head = el('tr');
            for (const title of ['Path (kept version)', 'Conflict copy', 'Kept', 'Copy', 'Copy from side', 'When']) head.appendChild(el('th', null, title));
            table.appendChild(el('thead')).appendChild(head);
            const body = el('tbody');
            for (const c of conflicts) {
              const row = el('tr');
              row.appendChild(el('td', 'filepath', c.path));
              row.appendChild(el('td', 'filepath', c.copy_path || '—'));
              row.appendChild(el('td', null, c.kept_size === null ? '—' : bytes(c.kept_size)));
              row.appendChild(el('td', null, c.copy_size === null ? '—' : bytes(c.copy_size)));
              row.appendChild(el('td', null, c.copy_side || '—'));
              row.appendChild(el('td', null, ago(c.at)));
              body.appendChild(row);
            }
            table.appendChild(body);
            const wrapper = el('div', 'table-wrap');
            wrapper.appendChild(table);
            details.appendChild(wrapper);
            return details;
          }

          // The compare view: what differs between the two sides, from the pair's last dry
          // run, read when opened. Side A is --src, side B is --dest.
          const compareLabels = { only_a: 'Only on A', only_b: 'Only on B', different: 'Different', conflict: 'Conflict' };
          // Open compare views and their filter, by pair: a refresh rebuilds the cards, and a
          // view the user opened stays open (and filtered) across it.
          const openCompareViews = new Map();
          function compareView(pair) {
            const details = el('details', 'compare');
            details.dataset.pair = pair;
            details.appendChild(el('summary', null, 'Differences at the last dry run'));
            const body = el('div', 'compare-body');
            details.appendChild(body);
            let kind = openCompareViews.get(pair) || '';
            async function load() {
              const data = await getJSON('/api/compare?limit=1000&pair=' + encodeURIComponent(pair) + (kind ? '&kind=' + kind : ''));
              if (!data.iteration) {
                body.replaceChildren(el('p', 'muted', 'No dry run recorded for this pair yet.'));
                return;
              }
              const select = el('select', 'compare-filter');
              select.setAttribute('aria-label', 'Show');
              const total = Object.values(data.counts).reduce((a, b) => a + b, 0);
              select.appendChild(new Option('All (' + total + ')', ''));
              for (const k of Object.keys(compareLabels)) select.appendChild(new Option(compareLabels[k] + ' (' + (data.counts[k] || 0) + ')', k));
              select.value = kind;
              select.addEventListener('change', () => { kind = select.value; openCompareViews.set(pair, kind); load(); });
              const note = el('p', 'muted', 'Dry run ' + ago(data.iteration.started_at) + ' (' + data.iteration.direction + ')' +
                (data.truncated ? '; its first 1000 operations' : '') + '. A is the source (--src), B the destination (--dest).');
              const table = el('table', 'compare-table');
              const head = el('tr');
              for (const title of ['Path', 'Where', 'Next run would', 'Size A → B']) head.appendChild(el('th', null, title));
              table.appendChild(el('thead')).appendChild(head);
              const rows = el('tbody');
              for (const r of data.rows) {
                const row = el('tr');
                row.dataset.kind = r.kind;
                row.appendChild(el('td', 'filepath', r.path));
                row.appendChild(el('td', 'kind-' + r.kind, compareLabels[r.kind]));
                row.appendChild(el('td', null, r.operation + (r.direction ? ' (' + r.direction + ')' : '')));
                // An operation's "after" is its source side, "before" the side it changes.
                const size = v => (v === null || v === undefined ? '—' : bytes(v));
                const towardsA = r.direction === 'b-to-a';
                const sizes = size(towardsA ? r.size_before : r.size_after) + ' → ' + size(towardsA ? r.size_after : r.size_before);
                row.appendChild(el('td', null, sizes));
                rows.appendChild(row);
              }
              table.appendChild(rows);
              const wrapper = el('div', 'table-wrap');
              wrapper.appendChild(table);
              body.replaceChildren(select, note, data.rows.length ? wrapper : el('p', 'muted', 'Nothing differs.'));
            }
            details.addEventListener('toggle', () => {
              if (!details.open) {
                openCompareViews.delete(pair);
                return;
              }
              openCompareViews.set(pair, kind);
              load().catch(() => body.replaceChildren(el('p', 'muted', 'The comparison cannot be read now.')));
            });
            details.open = openCompareViews.has(pair);
            return details;
          }

          // Counters in words on wide screens, the compact form on phones.
          function counts(run) {
            if (window.matchMedia('(max-width: 600px)').matches) {
              return '+' + run.files_created + ' ~' + run.files_updated + ' −' + run.files_deleted + ' ✗' + run.files_failed;
            }
            return run.files_created + ' created, ' + run.files_updated + ' updated, ' + run.files_deleted + ' deleted, ' + run.files_failed + ' failed';
          }

          // A fan-out pair (one source, several destinations): a row per destination of its
          // latest run; a destination that failed, or did not succeed when the others did, stands out.
          function fanOutTable(directions) {
            const members = directions.filter(d => d.last_real && d.last_real.fan_out_id);
            if (members.length < 2) return null;
            const newest = members.map(d => d.last_success_at || '').sort().pop();
            const table = el('table', 'fan-out');
            const head = el('tr');
            for (const label of ['Destination', 'Status', 'Last success', 'Copied']) head.appendChild(el('th', null, label));
            table.appendChild(head);
            for (const d of members) {
              const run = d.last_real;
              const behind = (d.last_success_at || '') < newest;
              const row = el('tr', d.state === 'failed' || behind ? 'failed' : null);
              row.dataset.dest = run.dest;
              row.appendChild(el('td', null, run.dest));
              row.appendChild(el('td', 'status-' + run.status, run.status + (behind ? ' · behind' : '')));
              row.appendChild(el('td', null, ago(d.last_success_at)));
              row.appendChild(el('td', null, bytes(run.bytes_transferred)));
              table.appendChild(row);
            }
            return table;
          }

          async function renderPairs() {
            const data = await getJSON('/api/pairs');
            const container = document.getElementById('pairs');
            const byPair = new Map();
            for (const entry of data.pairs) {
              if (!byPair.has(entry.pair)) byPair.set(entry.pair, []);
              byPair.get(entry.pair).push(entry);
            }
            const cards = [];
            for (const [pair, directions] of byPair) {
              const card = el('article', 'pair-card');
              card.dataset.pair = pair;
              const bad = directions.some(d => d.state === 'failed' || d.state === 'stale');
              if (bad) card.classList.add('bad');
              const title = el('h3');
              title.appendChild(el('span', null, pair));
              const worst = directions.find(d => d.state === 'failed') || directions.find(d => d.state === 'stale') ||
                directions.find(d => d.state === 'running') || directions.find(d => d.state === 'never') || directions[0];
              title.appendChild(el('span', 'state-' + worst.state, worst.state));
              card.appendChild(title);
              const fanOut = fanOutTable(directions);
              if (fanOut) card.appendChild(fanOut);
              for (const direction of directions) {
                const block = el('div', 'direction');
                block.dataset.direction = direction.direction;
                const target = direction.last_real && direction.last_real.fan_out_id ? ' → ' + direction.last_real.dest : '';
                block.appendChild(el('h4', null, direction.direction + target + ' · last success ' + ago(direction.last_success_at)));
                block.appendChild(runLine('Last sync', direction.last_real, false, direction.state === 'running'));
                block.appendChild(runLine('Last dry run', direction.last_dry_run, true, false));
                card.appendChild(block);
              }
              try {
                const history = await getJSON('/api/iterations?dry_run=false&limit=' + recent + '&pair=' + encodeURIComponent(pair));
                card.appendChild(chart(history.iterations));
              } catch (e) { /* the cards stay useful without the chart */ }
              try {
                const open = (await getJSON('/api/conflicts?limit=100&pair=' + encodeURIComponent(pair))).conflicts.filter(c => !c.resolved);
                if (open.length > 0) card.appendChild(conflictList(pair, open));
              } catch (e) { /* likewise */ }
              if (directions.some(d => d.last_dry_run)) card.appendChild(compareView(pair));
              cards.push(card);
            }
            if (cards.length === 0) cards.push(el('p', 'muted', 'No runs recorded yet.'));
            container.replaceChildren(...cards);
            return data.pairs.some(entry => entry.state === 'running');
          }

          async function renderActivity() {
            const data = await getJSON('/api/iterations?limit=' + recent);
            const rows = data.iterations.map(run => {
              const row = el('tr', 'clickable');
              row.dataset.iterationId = String(run.id);
              if (run.status !== 'success' && run.status !== 'running') row.classList.add('failed');
              if (selected === run.id) row.classList.add('selected');
              row.appendChild(el('td', null, ago(run.started_at)));
              row.appendChild(el('td', null, run.pair));
              row.appendChild(el('td', null, run.direction));
              const status = el('td', 'status-' + run.status);
              if (run.dry_run) { status.appendChild(el('span', 'badge badge-dry', 'DRY')); status.appendChild(document.createTextNode(' ')); }
              status.appendChild(document.createTextNode(run.status.replace('_', ' ')));
              row.appendChild(status);
              for (const value of [run.files_created, run.files_updated, run.files_deleted, run.files_failed]) row.appendChild(el('td', null, value));
              const conflicts = el('td', 'conflicts');
              if (run.files_conflicted > 0) conflicts.appendChild(el('span', 'badge badge-conflict', String(run.files_conflicted)));
              else conflicts.textContent = '0';
              row.appendChild(conflicts);
              row.appendChild(el('td', 'versions', run.versions_kept + ' / ' + run.versions_pruned));
              row.appendChild(el('td', null, bytes(run.bytes_transferred)));
              row.appendChild(el('td', null, took(run)));
              row.addEventListener('click', () => { location.hash = 'iteration=' + run.id; });
              return row;
            });
            document.querySelector('#activity tbody').replaceChildren(...rows);
          }

          async function renderOperations(append) {
            if (selected === null) return;
            const errorsOnly = document.getElementById('errors-only').checked;
            let url = '/api/operations?limit=200&iteration_id=' + selected + (errorsOnly ? '&status=fail' : '');
            if (append && nextAfter) url += '&after=' + nextAfter;
            const data = await getJSON(url);
            const details = document.getElementById('details');
            details.hidden = false;
            const run = data.iteration;
            document.getElementById('details-title').textContent =
              'Run ' + run.id + ': ' + run.pair + ' ' + run.direction + (run.dry_run ? ' (dry run)' : '') + ', ' + run.status.replace('_', ' ');
            document.getElementById('details-error').textContent =
              (run.error_message || '') + (run.filter_rules ? (run.error_message ? ' · ' : '') + 'filters ' + run.filter_fingerprint + ': ' + run.filter_rules.split('\n').join('; ') : '');
            const rows = data.operations.map(op => {
              const row = el('tr', op.status === 'fail' ? 'failed' : '');
              row.appendChild(el('td', null, op.seq));
              row.appendChild(el('td', null, (op.conflict ? 'conflict' : op.operation) + (op.direction ? ' ' + op.direction.replace('-to-', '→') : '')));
              row.appendChild(el('td', 'filepath', op.filepath));
              row.appendChild(el('td', null, op.size_before === null ? '—' : bytes(op.size_before)));
              row.appendChild(el('td', null, op.size_after === null ? '—' : bytes(op.size_after)));
              row.appendChild(el('td', 'status-' + op.status, op.status));
              row.appendChild(el('td', 'error', op.error_message || ''));
              return row;
            });
            const tbody = document.querySelector('#operations tbody');
            if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
            if (!append && rows.length === 0) tbody.replaceChildren(el('tr', null, ''));
            nextAfter = data.next_after;
            document.getElementById('more').hidden = !nextAfter;
          }

          function readHash() {
            const match = /iteration=(\d+)/.exec(location.hash);
            selected = match ? Number(match[1]) : null;
            nextAfter = null;
          }

          // Updates are pushed (server-sent events on /api/events: one whenever a run starts,
          // stores progress or ends); the regular poll stays as the fallback, and while a run is
          // in progress without a working stream the page polls every two seconds.
          let fastRefresh = null;
          let pushed = false;
          function listen() {
            if (!window.EventSource) return;
            const source = new EventSource('/api/events');
            source.addEventListener('pairs', () => { pushed = true; refreshDashboard(); });
            source.addEventListener('error', () => { pushed = false; });
          }

          async function refreshDashboard() {
            try {
              const running = await renderPairs();
              clearTimeout(fastRefresh);
              if (running && !pushed) fastRefresh = setTimeout(refreshDashboard, 2000);
              await renderActivity();
              showStore(null);
              document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString() + (pushed ? ' · live' : '');
            } catch (error) {
              showStore(error.message);
            }
          }

          async function renderExplainPairs() {
            const table = document.querySelector('#hiw-pairs tbody');
            try {
              const data = await getJSON('/api/pairs');
              const rows = data.pairs.map(entry => {
                const row = el('tr');
                const run = entry.last_real || entry.last_dry_run;
                row.appendChild(el('td', null, entry.pair));
                row.appendChild(el('td', null, entry.direction));
                row.appendChild(el('td', null, run ? run.src : '—'));
                row.appendChild(el('td', null, run ? run.dest : '—'));
                return row;
              });
              if (rows.length) table.replaceChildren(...rows);
            } catch (error) { /* the page explains itself without the list */ }
          }

          if (body.dataset.page === 'dashboard') {
            readHash();
            window.addEventListener('hashchange', () => { readHash(); renderActivity().catch(() => {}); renderOperations(false).catch(e => showStore(e.message)); });
            document.getElementById('errors-only').addEventListener('change', () => { nextAfter = null; renderOperations(false).catch(e => showStore(e.message)); });
            document.getElementById('more').addEventListener('click', () => renderOperations(true).catch(e => showStore(e.message)));
            refreshDashboard().then(() => renderOperations(false)).catch(() => {});
            setInterval(refreshDashboard, refreshSeconds * 1000);
            listen();
          } else if (body.dataset.page === 'how-it-works') {
            renderExplainPairs();
          }
        })();
        """#
}
