'use strict';
// Upstream state and history, shared by the library and /admin (inlined
// into both pages): the badge of an item whose original is gone, hidden or
// unreachable; and an item's history — its state changes with their
// evidence, its versions with what changed, and its stats as a small chart
// (one sparkline per counter, SVG built with createElementNS). Every value
// goes in as text; nothing from the API is parsed as HTML.
const VaultHistory = (el) => {
  const SVG = 'http://www.w3.org/2000/svg';
  const LABEL = { deleted: 'deleted upstream', restricted: 'restricted upstream', unreachable: 'upstream unreachable' };
  const day = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toISOString().slice(0, 10); };
  const stamp = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toISOString().slice(0, 16).replace('T', ' '); };

  // "deleted upstream on 2026-12-03" (null for a live item).
  function badgeText(it) {
    const s = it && it.upstream_state;
    if (!s || s === 'live' || !LABEL[s]) return null;
    return LABEL[s] + (it.upstream_state_since ? ' on ' + day(it.upstream_state_since) : '');
  }
  function badge(it) {
    const text = badgeText(it);
    if (!text) return null;
    return el('span', { class: 'badge upstream upstream-' + it.upstream_state, text, testid: 'badge-upstream', title: 'The platform ' + ({ deleted: 'says the original is gone', restricted: 'hides the original behind a login or lock', unreachable: 'did not answer the last refresh' })[it.upstream_state] + '; the archived copy is kept.' });
  }
  function svg(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    return n;
  }
  // One row per counter that has at least one number: its name, a
  // sparkline over time (own scale) and its first → last value.
  function chart(series) {
    const points = (series || []).filter((p) => p && p.stats && typeof p.stats === 'object');
    const names = [];
    for (const p of points) for (const [k, v] of Object.entries(p.stats)) if (typeof v === 'number' && !names.includes(k)) names.push(k);
    if (!names.length) return null;
    const times = points.map((p) => new Date(p.captured_at).getTime());
    const t0 = Math.min(...times), t1 = Math.max(...times);
    const W = 160, H = 28, PAD = 3;
    const table = el('table', { class: 'stats-chart', testid: 'stats-chart', 'data-points': String(points.length) });
    for (const name of names) {
      const pts = points.map((p, i) => [times[i], p.stats[name]]).filter(([, v]) => typeof v === 'number');
      const lo = Math.min(...pts.map(([, v]) => v)), hi = Math.max(...pts.map(([, v]) => v));
      const x = (t) => PAD + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - 2 * PAD);
      const y = (v) => H - PAD - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (H - 2 * PAD);
      const pic = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${name}: ${pts.map(([, v]) => v).join(', ')}` });
      if (pts.length > 1) pic.append(svg('polyline', { points: pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }));
      for (const [t, v] of pts) pic.append(svg('circle', { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2, fill: 'currentColor' }));
      const first = pts[0][1], last = pts[pts.length - 1][1];
      table.append(el('tr', { testid: 'stats-row-' + name, 'data-points': String(pts.length) },
        el('th', { text: name }), el('td', {}, pic),
        el('td', { text: first === last ? last.toLocaleString() : `${first.toLocaleString()} → ${last.toLocaleString()}` })));
    }
    return table;
  }
  function evidenceText(ev) {
    if (!ev || typeof ev !== 'object') return '';
    return [ev.status, ev.message].filter((x) => x !== undefined && x !== null && x !== '').join(' · ');
  }
  // The history section of an item page (h: GET /contents/{id}/history).
  function panel(h) {
    const box = el('section', { class: 'history', testid: 'history' });
    const state = h.upstream_state || 'live';
    box.append(el('p', { testid: 'history-state', class: 'upstream-line upstream-' + state },
      state === 'live' ? 'The original is live' : (badgeText(h) || state),
      h.last_refresh_at ? ` · last checked ${stamp(h.last_refresh_at)}` : ' · not refreshed yet',
      h.refresh_due_at ? ` · next check ${stamp(h.refresh_due_at)}` : ''));
    const states = h.states || [];
    if (states.length) {
      box.append(el('ul', { class: 'states', testid: 'history-states' }, ...states.map((s) => el('li', {},
        `${stamp(s.at)}: ${s.previous} → ${s.state}`, s.evidence ? el('span', { class: 'muted', text: ' (' + evidenceText(s.evidence) + ')' }) : null))));
    }
    const versions = h.versions || [];
    if (versions.length > 1) {
      box.append(el('h3', { text: `Versions (${versions.length})` }), el('ol', { class: 'versions', testid: 'history-versions' },
        ...versions.map((v) => el('li', { testid: 'version-' + v.version },
          `${stamp(v.captured_at)}: `,
          v.version === 1 ? 'as first archived' : ((v.diff || []).map((d) => `${d.field} ${d.change}`).join(', ') || 'no visible change')))));
    }
    const c = chart(h.stats);
    if (c) box.append(el('h3', { text: 'Stats over time' }), c);
    return box;
  }
  return { badge, badgeText, chart, panel };
};
