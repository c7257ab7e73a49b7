/**
 * The status page: static HTML, CSS and script, no external resources (it must work on an
 * operator's machine with no Internet and under a strict CSP). The page holds no data; its
 * script reads GET /v1/dashboard with the token from the URL fragment (#token=…), which
 * browsers never send to the server, and redraws every few seconds. Text goes in with
 * textContent only, so names from zone files cannot inject markup.
 *
 * Drain and undrain (issue #20) go through a preview first: the button asks POST
 * /v1/simulate what the change would do (per name, shares before and after, the client
 * networks that would lose answers) and only the preview's confirm button makes the change.
 * `#preview=drain:KEY` (or `undrain:KEY`) in the URL opens that preview on load.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meridian status</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>meridian</h1>
  <p id="summary">loading…</p>
</header>
<main>
  <p id="error" hidden></p>
  <section id="cluster" hidden>
    <h2>Cluster</h2>
    <p id="cluster-link"></p>
    <p class="note" id="cluster-peers"></p>
  </section>
  <section>
    <h2>Regions and targets</h2>
    <p class="note" id="window-note"></p>
    <table id="regions">
      <thead><tr><th>region / target</th><th>health</th><th>since</th><th>probe RTT</th><th>answers</th><th>share</th><th id="bucket-head">per minute</th><th>change</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="preview" hidden>
    <h2 id="preview-title">Preview</h2>
    <p class="note">Expected shares of each name's answers for the built-in sample of client networks (one per country, weighted by the IPv4 space the GeoIP database gives it), now and after the change. Nothing has changed yet.</p>
    <div id="preview-body"></div>
    <p><button id="preview-confirm" type="button">Confirm</button> <button id="preview-cancel" type="button">Cancel</button></p>
  </section>
  <section>
    <h2>What each continent gets now</h2>
    <p class="note">The policy run for a real address the GeoIP database places on each continent (hover a heading), with the health of this moment.</p>
    <table id="continents">
      <thead><tr><th>name</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
header { background: #1b1f24; color: #fff; padding: 0.8em 1.5em; display: flex; gap: 2em; align-items: baseline; }
header h1 { margin: 0; font-size: 1.3em; }
header p { margin: 0; opacity: 0.85; }
main { padding: 0 1.5em 2em; }
h2 { font-size: 1.1em; margin: 1.5em 0 0.3em; }
.note { color: #57606a; margin: 0 0 0.6em; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,0.08); }
th, td { padding: 0.35em 0.8em; text-align: left; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
tr.region td { background: #fafbfc; font-weight: 600; }
tr.target td:first-child { padding-left: 2em; }
.badge { display: inline-block; padding: 0 0.5em; border-radius: 0.8em; font-size: 0.85em; font-weight: 600; }
.up { background: #dafbe1; color: #116329; }
.degraded, .unknown { background: #fff8c5; color: #7d4e00; }
.down { background: #ffebe9; color: #a40e26; }
.bar { display: inline-block; height: 0.7em; background: #0969da; vertical-align: middle; margin-right: 0.4em; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
#error { background: #ffebe9; color: #a40e26; padding: 0.6em 1em; }
#preview { background: #fff; border: 2px solid #bf8700; padding: 0 1em 0.5em; margin-top: 1em; }
#preview-body table { margin: 0 0 0.8em; }
.losing { color: #a40e26; font-weight: 600; }
#cluster-link.cut-off, #cluster-link.catching-up { background: #ffebe9; color: #a40e26; padding: 0.6em 1em; }
`;

export const DASHBOARD_JS = `'use strict';
(function () {
  var REFRESH_MS = 5000;
  var params = new URLSearchParams(location.hash.slice(1));
  var askPreview = /^(drain|undrain):(.+)$/.exec(params.get('preview') || '');
  var token = params.get('token') || sessionStorage.getItem('meridian-token');
  if (params.get('token')) {
    sessionStorage.setItem('meridian-token', params.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function td(text, attrs) { var a = attrs || {}; a.text = text; return el('td', a); }
  function badge(state, text) { return el('span', { className: 'badge ' + state, text: text || state }); }
  function pct(share) { return (share * 100).toFixed(1) + ' %'; }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 120 ? s + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  }
  function shareCell(share) {
    var cell = el('td', { className: 'num' });
    var bar = el('span', { className: 'bar' });
    bar.style.width = Math.round(share * 80) + 'px'; // CSSOM, which a CSP without 'unsafe-inline' allows
    cell.appendChild(bar);
    cell.appendChild(document.createTextNode(pct(share)));
    return cell;
  }

  function renderRegions(d) {
    var body = document.querySelector('#regions tbody');
    body.replaceChildren();
    document.getElementById('bucket-head').textContent = 'per ' + (d.window.bucketSec >= 60 ? Math.round(d.window.bucketSec / 60) + ' min' : d.window.bucketSec + ' s') + ' (oldest first)';
    d.regions.forEach(function (r) {
      body.appendChild(el('tr', { className: 'region', 'data-region': r.region, 'data-region-state': r.state }, [
        el('td', { text: r.region }), el('td', {}, [badge(r.state)]), td(''), td(''),
        td(String(r.answers), { className: 'num' }), shareCell(r.share), td(''), td(''),
      ]));
      r.targets.forEach(function (t) {
        // An unprobed target stays "unknown" for good and counts as up: say so rather than look pending.
        var state = t.forced ? 'forced ' + t.forced : !t.probed ? 'up (no probe)' : t.state;
        var look = !t.healthy ? 'down' : t.probed && t.state === 'unknown' ? 'unknown' : 'up';
        var health = el('td', {}, [badge(look, state)]);
        if (t.reason) health.appendChild(document.createTextNode(' ' + t.reason));
        body.appendChild(el('tr', { className: 'target', 'data-target': t.key, 'data-healthy': String(t.healthy), 'data-state': t.state }, [
          td(t.id + ' (' + t.zone + ')'), health, td(ago(t.since), { title: t.since }),
          td(t.rttMs === null ? '–' : t.rttMs + ' ms', { className: 'num' }),
          td(String(t.answers), { className: 'num' }), shareCell(t.share), td(t.perBucket.join(' · '), { className: 'num' }),
          el('td', {}, [changeButton(t.forced === 'down' ? 'undrain' : 'drain', t.key)]),
        ]));
      });
    });
  }

  function authHeaders(json) {
    var h = token ? { authorization: 'Bearer ' + token } : {};
    if (json) h['content-type'] = 'application/json';
    return h;
  }
  function changeButton(action, key) {
    var b = el('button', { type: 'button', text: action + '…', 'data-action': action, 'data-key': key });
    b.addEventListener('click', function () { preview(action, key); });
    return b;
  }

  // The change the open preview would make, confirmed only by its own button.
  var pending = null;
  function pctDelta(v) { return (v > 0 ? '+' : '') + (v * 100).toFixed(1); }
  function previewRows(n) {
    var rows = [];
    n.targets.forEach(function (r) { if (Math.abs(r.delta) >= 0.0005) rows.push(['target ' + r.id, r]); });
    if (Math.abs(n.noAnswer.delta) >= 0.0005) rows.push(['no answer', n.noAnswer]);
    if (Math.abs(n.failOpen.delta) >= 0.0005) rows.push(['fail-open', n.failOpen]);
    return rows;
  }
  function renderPreview(action, key, sim) {
    var body = document.getElementById('preview-body');
    body.replaceChildren();
    var changed = sim.names.filter(function (n) { return previewRows(n).length > 0 || n.losingAnswersTotal > 0; });
    if (changed.length === 0) body.appendChild(el('p', { text: 'No answer of any steered name changes.', 'data-preview-empty': 'true' }));
    changed.forEach(function (n) {
      var table = el('table', { 'data-preview-name': n.name }, [el('thead', {}, [el('tr', {}, [
        el('th', { text: n.name }), el('th', { text: 'now' }), el('th', { text: 'after' }), el('th', { text: 'change' }),
      ])])]);
      var tbody = el('tbody');
      previewRows(n).forEach(function (pair) {
        var r = pair[1];
        tbody.appendChild(el('tr', { 'data-row': pair[0], 'data-before': r.before.toFixed(4), 'data-after': r.after.toFixed(4) }, [
          td(pair[0]), td(pct(r.before), { className: 'num' }), td(pct(r.after), { className: 'num' }), td(pctDelta(r.delta), { className: 'num' }),
        ]));
      });
      table.appendChild(tbody);
      body.appendChild(table);
      if (n.losingAnswersTotal > 0) {
        var who = n.losingAnswers.slice(0, 8).map(function (l) { return l.network + ' (' + (l.country || '?') + ')'; }).join(', ');
        body.appendChild(el('p', { className: 'losing', 'data-losing': String(n.losingAnswersTotal), text: n.losingAnswersTotal + ' client network(s) would lose answers for ' + n.name + ': ' + who + (n.losingAnswersTotal > 8 ? ', …' : '') }));
      }
    });
  }
  function closePreview() {
    pending = null;
    document.getElementById('preview').hidden = true;
  }
  function preview(action, key) {
    var section = document.getElementById('preview');
    document.getElementById('preview-title').textContent = 'Preview: ' + action + ' ' + key;
    document.getElementById('preview-body').replaceChildren(el('p', { text: 'simulating…' }));
    document.getElementById('preview-confirm').textContent = 'Confirm ' + action + ' ' + key;
    section.setAttribute('data-action', action);
    section.setAttribute('data-key', key);
    section.removeAttribute('data-ready');
    section.hidden = false;
    pending = null;
    var change = {};
    change[action] = [key];
    fetch('/v1/simulate', { method: 'POST', headers: authHeaders(true), body: JSON.stringify(change), cache: 'no-store' })
      .then(function (res) { return res.json().then(function (j) { if (!res.ok) throw new Error(j.message || 'HTTP ' + res.status); return j; }); })
      .then(function (sim) {
        renderPreview(action, key, sim);
        pending = { action: action, key: key };
        section.setAttribute('data-ready', 'true');
      }, function (err) {
        document.getElementById('preview-body').replaceChildren(el('p', { className: 'losing', text: 'cannot preview: ' + err.message }));
      });
  }
  function confirmChange() {
    if (pending === null) return;
    var p = pending;
    fetch('/v1/targets/' + encodeURIComponent(p.key) + '/' + p.action, { method: 'POST', headers: authHeaders(true), body: '{}' })
      .then(function (res) { return res.json().then(function (j) { if (!res.ok) throw new Error(j.message || 'HTTP ' + res.status); }); })
      .then(function () { closePreview(); load(); }, function (err) { showError(p.action + ' ' + p.key + ': ' + err.message); });
  }
  document.getElementById('preview-confirm').addEventListener('click', confirmChange);
  document.getElementById('preview-cancel').addEventListener('click', closePreview);

  function renderContinents(d) {
    var head = document.querySelector('#continents thead tr');
    var body = document.querySelector('#continents tbody');
    head.replaceChildren(el('th', { text: 'name' }));
    body.replaceChildren();
    if (d.names.length === 0) return;
    d.names[0].continents.forEach(function (c) { head.appendChild(el('th', { text: c.continentName, title: 'a client at ' + c.client })); });
    d.names.forEach(function (n) {
      var row = el('tr', { 'data-name': n.name }, [td(n.name + ' ' + n.type)]);
      n.continents.forEach(function (c) {
        var text = c.outcome === 'no-client' ? '(no address in the database)' : c.outcome !== 'answer' ? c.outcome.toUpperCase() : c.answers.map(function (a) {
          return a.regions.join('+') + (c.answers.length > 1 ? ' ' + Math.round(a.share * 100) + '%' : '') + ' ' + a.addresses.join(' ');
        }).join(' · ');
        if (c.allDown) text += ' (every target down)';
        row.appendChild(td(text, { 'data-continent': c.continent, 'data-answer': c.answers.length ? c.answers[0].regions.join('+') : c.outcome }));
      });
      body.appendChild(row);
    });
  }

  // Cluster mode: whether this node is in step with the store, and the other nodes it hears from.
  function renderCluster(d) {
    var section = document.getElementById('cluster');
    var c = d.cluster;
    section.hidden = c === null;
    if (c === null) { section.removeAttribute('data-link'); return; }
    section.setAttribute('data-link', c.link);
    section.setAttribute('data-writes', c.writes);
    var since = new Date(c.since).toLocaleTimeString() + ' (' + ago(c.since) + ')';
    var text = 'node ' + c.node + ': ' + (c.link === 'in-step'
      ? 'in step with the cluster store (NATS ' + c.servers.join(', ') + ') since ' + since + '; writes are taken.'
      : (c.link === 'cut-off' ? 'cut off from NATS (' + c.servers.join(', ') + ')' : 'connected to NATS, catching up with the store') +
        ' since ' + since + ': serving its last state; writes are refused (503) until it is back in step.' +
        (c.lastError ? ' Last error: ' + c.lastError : ''));
    var link = document.getElementById('cluster-link');
    link.className = c.link;
    link.textContent = text;
    var peers = document.getElementById('cluster-peers');
    peers.replaceChildren();
    if (c.peers.length === 0) { peers.textContent = 'No health report from another node yet.'; return; }
    peers.appendChild(document.createTextNode('Health reports from the other nodes: '));
    c.peers.forEach(function (p, i) {
      if (i > 0) peers.appendChild(document.createTextNode(', '));
      peers.appendChild(el('span', { 'data-peer': p.node, 'data-counted': String(p.counted), title: p.reportedAt,
        text: p.node + ' (' + ago(p.reportedAt) + (p.counted ? '' : ', too old to count towards quorum') + ')' }));
    });
  }

  function render(d) {
    var down = d.regions.filter(function (r) { return r.state !== 'up'; }).length;
    document.getElementById('summary').textContent = d.regions.length + ' regions, ' + (down === 0 ? 'all up' : down + ' not up') +
      ' · ' + d.totalAnswers + ' steered answers since ' + new Date(d.window.since).toLocaleTimeString() + ' · snapshot ' + d.snapshot;
    var span = Math.round((Date.parse(d.window.until) - Date.parse(d.window.since)) / 1000);
    document.getElementById('window-note').textContent = 'Answers and shares count steered answers over the last ' +
      (span < 120 ? span + ' s' : Math.round(span / 60) + ' min') + ' (since ' + d.window.since + ').';
    renderCluster(d);
    renderRegions(d);
    renderContinents(d);
    document.documentElement.setAttribute('data-loaded', d.generatedAt);
  }

  function showError(text) {
    var e = document.getElementById('error');
    e.textContent = text;
    e.hidden = false;
    document.documentElement.setAttribute('data-error', text);
  }

  function load() {
    fetch('/v1/dashboard', { headers: token ? { authorization: 'Bearer ' + token } : {}, cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401 || res.status === 403) throw new Error('the admin API wants a read token: open this page as /dashboard#token=YOUR_TOKEN');
        if (!res.ok) throw new Error('GET /v1/dashboard: HTTP ' + res.status);
        return res.json();
      })
      .then(function (d) { document.getElementById('error').hidden = true; render(d); }, function (err) { showError(err.message); })
      .then(function () { clearTimeout(timer); timer = setTimeout(load, REFRESH_MS); });
  }
  var timer = null;
  load();
  if (askPreview) preview(askPreview[1], askPreview[2]);
})();
`;
