'use strict';
(() => {
  // The library. Everything shown comes from the JSON API; nothing from an
  // item is ever parsed as HTML: values go in with textContent and
  // createElement, links only for http(s) URLs, search snippets split on
  // their <mark>s and inserted as text.
  // The key shares its sessionStorage slot with /admin, so an operator who
  // gave it here is not asked again there (same tab only).
  const KEY = 'vaultstream.operatorKey';
  const PAGE_SIZE = 24;
  const $ = (id) => document.getElementById(id);
  const FILTERS = ['q', 'platform', 'tag', 'kind', 'upstream', 'from', 'to'];
  const list = { key: null, cursor: null, loading: false, done: false, search: false, count: 0 };
  const objectUrls = [];
  let gallery = [];
  let galleryAt = 0;
  let lazy = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'testid') e.setAttribute('data-testid', String(v));
      else if (k === 'class') e.className = String(v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  const upstreamView = VaultHistory(el);
  function safeHref(u) {
    if (!u) return null;
    try {
      const url = new URL(String(u), location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch { return null; }
  }
  function extLink(u, label, testid) {
    const href = safeHref(u);
    if (!href) return el('span', { text: label || u || '' });
    return el('a', { href, text: label || href, target: '_blank', rel: 'noopener noreferrer', testid });
  }
  // A link inside the page (history navigation, no reload).
  const navLink = (href, label, attrs) => el('a', Object.assign({ href, 'data-nav': true }, attrs || {}), label);
  function timeEl(t) {
    if (!t) return null;
    const d = new Date(t);
    return el('time', { datetime: d.toISOString(), title: d.toLocaleString(), text: d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) });
  }
  function flash(msg, isError) {
    $('flash').textContent = msg || '';
    $('flash').className = isError ? 'error' : '';
  }
  function titleOf(it) {
    return it.display_title || it.title || `${it.platform} ${it.kind}`;
  }
  function shortText(s, n) {
    s = String(s || '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  // --- API access -------------------------------------------------------
  class AuthNeeded extends Error {}
  const key = () => sessionStorage.getItem(KEY) || '';
  function showKeyState() { $('key-forget').hidden = !key(); }
  function askForKey(status, body) {
    const msg = (body && body.error && body.error.message) || (status === 403 ? 'forbidden' : 'unauthenticated');
    $('auth-msg').textContent = (status === 403 ? 'This key may not do that: ' : 'The library needs an API key: ') + msg;
    $('auth').hidden = false;
    $('auth-key').focus();
  }
  async function api(method, path, query, json) {
    const url = new URL('/api/v1' + path, location.origin);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
    const headers = { Accept: 'application/json' };
    if (key()) headers.Authorization = 'Bearer ' + key();
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await fetch(url, { method, headers, cache: 'no-store', credentials: 'omit', body: json === undefined ? undefined : JSON.stringify(json) });
    let body = null;
    try { body = await resp.json(); } catch { body = null; }
    if (resp.status === 401 || resp.status === 403) {
      askForKey(resp.status, body);
      throw new AuthNeeded('an API key is needed');
    }
    if (!resp.ok) {
      const e = body && body.error;
      const err = new Error(e ? `${e.message} (${e.code})` : `HTTP ${resp.status}`);
      err.code = e && e.code;
      throw err;
    }
    return { status: resp.status, body };
  }
  async function guarded(fn) {
    try { await fn(); } catch (e) {
      if (e instanceof AuthNeeded) flash('Enter an API key to continue.', true);
      else flash(String(e.message || e), true);
    }
  }
  // An operator key (or no auth at all) may open /admin: ask an operator
  // route quietly, without prompting for a key.
  async function checkOperator() {
    const headers = key() ? { Authorization: 'Bearer ' + key() } : {};
    try {
      const r = await fetch('/api/v1/dead-letters?limit=1', { headers, cache: 'no-store', credentials: 'omit' });
      $('admin-link').hidden = !r.ok;
    } catch { $('admin-link').hidden = true; }
  }

  // Archived files: plain URLs without a key; with one, fetched with it
  // into blob: URLs (an <img> or <video> cannot send headers).
  function needsKey(href) { return key() && new URL(href).origin === location.origin; }
  function fetchBlob(href) {
    return fetch(href, { headers: { Authorization: 'Bearer ' + key() }, credentials: 'omit' })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status))))
      .then((b) => { const u = URL.createObjectURL(b); objectUrls.push(u); return u; });
  }
  function setSrc(node, url, eager) {
    const href = safeHref(url);
    if (!href) return;
    if (!needsKey(href)) { node.src = href; return; }
    const load = () => fetchBlob(href).then((u) => { node.src = u; }).catch((e) => { node.title = 'could not load: ' + e.message; });
    if (eager || !lazy) { load(); return; }
    node.dataset.lazySrc = href;
    node._load = load;
    lazy.observe(node);
  }
  if ('IntersectionObserver' in window) {
    lazy = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        lazy.unobserve(e.target);
        if (e.target._load) e.target._load();
      }
    }, { rootMargin: '400px' });
  }
  function releaseBlobs() { while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop()); }

  // --- the list -----------------------------------------------------------
  function params() {
    const p = new URLSearchParams(location.search);
    const f = {};
    for (const k of FILTERS) f[k] = (p.get(k) || '').trim();
    f.layout = p.get('layout') === 'timeline' ? 'timeline' : 'grid';
    return f;
  }
  function dayShift(day, n) {
    const d = new Date(day + 'T00:00:00Z');
    if (isNaN(d)) return null;
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  // Words, a kind or dates need the search route (its query language has
  // them as filters: newest first when there are no words); platform, tag
  // and the original's state alone use the list's keyset cursors.
  function query(f) {
    if (!f.q && !f.kind && !f.from && !f.to) return null;
    const parts = [f.q];
    if (f.upstream) parts.push('upstream:' + f.upstream);
    if (f.platform) parts.push('platform:' + f.platform);
    if (f.tag) parts.push('tag:' + f.tag.replace(/^#/, ''));
    if (f.kind) parts.push('kind:' + f.kind);
    const after = f.from && dayShift(f.from, -1);
    const before = f.to && dayShift(f.to, 1);
    if (after) parts.push('after:' + after);
    if (before) parts.push('before:' + before);
    return parts.filter(Boolean).join(' ');
  }
  function fillFilters(f) {
    $('q').value = f.q;
    $('f-platform').value = f.platform;
    $('f-tag').value = f.tag;
    $('f-kind').value = f.kind;
    $('f-upstream').value = f.upstream;
    $('f-from').value = f.from;
    $('f-to').value = f.to;
    for (const b of document.querySelectorAll('[data-layout]')) b.setAttribute('aria-pressed', String(b.dataset.layout === f.layout));
    $('cards').className = 'cards ' + f.layout;
  }
  function filtersFromForm() {
    const f = {
      q: $('q').value.trim(), platform: $('f-platform').value, tag: $('f-tag').value.trim(),
      kind: $('f-kind').value, upstream: $('f-upstream').value, from: $('f-from').value, to: $('f-to').value,
    };
    const p = new URLSearchParams();
    for (const k of FILTERS) if (f[k]) p.set(k, f[k]);
    if (params().layout === 'timeline') p.set('layout', 'timeline');
    return p;
  }
  function go(href, replace) {
    if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
    render();
  }

  function badges(it, preview) {
    const out = [];
    const add = (cls, text) => out.push(el('span', { class: 'badge ' + cls, text, testid: 'badge-' + cls }));
    const upstream = upstreamView.badge(it);
    if (upstream) out.push(upstream);
    if (it.kind === 'video' || (preview && preview.videos)) add('video', 'video');
    if (it.kind === 'thread' || (Array.isArray(it.parts) && it.parts.length > 1)) add('thread', 'thread');
    if (it.kind === 'article') add('article', 'article');
    if (it.status === 'failed' || it.media_status === 'failed') add('failed', 'failed');
    else if (it.media_status === 'partial') add('partial', 'partial');
    else if (it.status === 'unprocessed' || it.status === 'processing') add('pending', 'pending');
    return out;
  }
  function tagList(tags) {
    return el('ul', { class: 'tags' }, ...(tags || []).map((t) =>
      el('li', {}, navLink('/?tag=' + encodeURIComponent(t), '#' + t, { testid: 'tag-' + t }))));
  }
  function decodeEntities(s) {
    return s.replace(/&(lt|gt|amp|quot|#39|#x27);/g, (_, n) =>
      ({ lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'", '#x27': "'" })[n]);
  }
  function snippetNode(s) {
    const p = el('p', { class: 'snippet' });
    let marked = false;
    for (const piece of String(s).split(/(<mark>|<\/mark>)/)) {
      if (piece === '<mark>') { marked = true; continue; }
      if (piece === '</mark>') { marked = false; continue; }
      if (piece) p.append(marked ? el('mark', { text: decodeEntities(piece) }) : decodeEntities(piece));
    }
    return p;
  }
  function card(it, preview, highlights) {
    const title = titleOf(it);
    const thumb = el('div', { class: 'thumb' });
    const img = preview && preview.image;
    if (img) {
      const node = el('img', {
        alt: 'Picture from: ' + shortText(title, 100), loading: 'lazy', decoding: 'async',
        width: img.width || 400, height: img.height || 300, testid: 'card-img-' + it.id,
      });
      setSrc(node, img.url);
      thumb.append(node);
      const n = (preview.images || 0);
      if (n > 1) thumb.append(el('span', { class: 'count', text: n + ' pictures' }));
    }
    const body = el('div', { class: 'body' },
      el('div', { class: 'meta' },
        el('span', { class: 'platform', text: it.platform }),
        it.author && (it.author.name || it.author.id) ? el('span', { text: it.author.name || it.author.id }) : null,
        el('span', {}, timeEl(it.published_at || it.created_at))),
      el('h2', { class: 'title', text: shortText(title, 140), testid: 'card-title-' + it.id }));
    const hl = highlights || {};
    const snippets = Object.entries(hl).filter(([f]) => f === 'text' || f === 'notes');
    if (snippets.length) for (const [, s] of snippets) body.append(snippetNode(s));
    else if (it.text && it.text !== it.title) body.append(el('p', { class: 'excerpt', text: shortText(it.text, 280) }));
    return el('li', { class: 'card', testid: 'card-' + it.id, 'data-id': it.id, 'data-platform': it.platform },
      el('a', { href: '/items/' + it.id, 'data-nav': true, testid: 'card-link-' + it.id }, img ? thumb : null, body),
      el('div', { class: 'foot' }, ...badges(it, preview), tagList(it.tags)));
  }
  async function loadMore() {
    if (list.loading || list.done) return;
    list.loading = true;
    const f = params();
    const q = query(f);
    try {
      let rows;
      let next;
      if (q) {
        const { body } = await api('GET', '/search', { q, limit: PAGE_SIZE, cursor: list.cursor });
        rows = body.items.map((h) => card(h.item, h.preview, h.highlights));
        next = body.next_cursor;
      } else {
        const { body } = await api('GET', '/contents', { platform: f.platform, tag: f.tag.replace(/^#/, ''), upstream_state: f.upstream, limit: PAGE_SIZE, cursor: list.cursor });
        rows = body.items.map((it) => card(it, it.preview));
        next = body.next_cursor;
      }
      $('cards').append(...rows);
      list.count += rows.length;
      list.cursor = next;
      list.done = !next;
      $('more').hidden = list.done;
      $('end').hidden = !list.done || list.count === 0;
      $('summary').textContent = list.count === 0 ? 'Nothing here yet.' : `${list.count} item${list.count === 1 ? '' : 's'} shown${list.done ? '' : ', more below'}`;
      $('cards').dataset.pages = String(Number($('cards').dataset.pages || 0) + 1);
    } finally {
      list.loading = false;
    }
    // The sentinel may still be in view (a tall screen): keep filling.
    if (!list.done && sentinelVisible()) await loadMore();
  }
  function sentinelVisible() {
    const r = $('sentinel').getBoundingClientRect();
    return r.top < window.innerHeight + 600;
  }
  async function showList() {
    const f = params();
    const listKey = new URLSearchParams(FILTERS.filter((k) => f[k]).map((k) => [k, f[k]])).toString();
    $('view-item').hidden = true;
    $('view-list').hidden = false;
    document.title = 'VaultStream library';
    fillFilters(f);
    if (list.key === listKey && list.count) return;
    list.key = listKey;
    list.cursor = null; list.done = false; list.count = 0;
    $('cards').replaceChildren();
    $('cards').dataset.pages = '0';
    releaseBlobs();
    $('summary').textContent = 'Loading…';
    await guarded(loadMore);
  }

  // --- one item -----------------------------------------------------------
  function isVideo(m) { return m.role === 'video' || String(m.mime || '').startsWith('video/'); }
  function thumbButton(m, index, alt) {
    const img = el('img', { alt, loading: 'lazy', width: m.width || 300, height: m.height || 300, testid: 'gallery-img-' + index });
    setSrc(img, m.url);
    return el('button', { type: 'button', 'aria-label': 'Open picture ' + (index + 1), testid: 'gallery-' + index, onclick: () => openViewer(index) }, img);
  }
  function videoPlayer(m, label) {
    const v = el('video', { controls: true, preload: 'metadata', playsinline: true, width: m.width || undefined, height: m.height || undefined, 'aria-label': label, testid: 'video-' + m.id });
    const href = safeHref(m.url);
    if (href && needsKey(href)) {
      // With a key the file is fetched whole (no header on <video>'s own
      // Range requests); it then seeks in memory.
      fetchBlob(href).then((u) => { v.src = u; }).catch((e) => { v.title = 'could not load: ' + e.message; });
    } else if (href) {
      v.src = href; // the browser seeks with Range requests (206)
    }
    return el('figure', { class: 'video' }, v, el('figcaption', { class: 'muted' }, extLink(m.url, 'Download video')));
  }
  function paragraphs(text, testid) {
    return el('div', { class: 'text', testid, text: text || '' });
  }
  function fileLine(m) {
    const facts = [m.mime, m.width && m.height ? `${m.width}×${m.height}` : '', m.bytes ? `${Math.round(m.bytes / 1024)} KB` : '',
      m.duration_secs ? `${Math.round(m.duration_secs)} s` : ''].filter(Boolean).join(' · ');
    const li = el('li', { testid: 'file-' + m.id },
      `#${m.position} ${m.role}${m.quoted ? ' (quoted)' : ''}: `,
      el('span', { class: 'state-' + String(m.status).replace(/[^a-z]/g, ''), text: m.status, testid: 'file-state-' + m.id }),
      facts ? ' · ' + facts : '', ' · ', extLink(m.original_url, 'original'));
    if (m.error) li.append(el('div', { class: 'state-failed', text: `${m.error.code}: ${m.error.message}` }));
    return li;
  }
  function tagEditor(it, box) {
    const show = (tags) => {
      const edit = el('button', { type: 'button', text: 'Edit tags', testid: 'tags-edit', onclick: () => {
        const input = el('input', { value: tags.join(' '), 'aria-label': 'Tags, separated by spaces or commas', testid: 'tags-input', autocomplete: 'off' });
        const form = el('form', { class: 'tag-edit', onsubmit: async (e) => {
          e.preventDefault();
          const wanted = input.value.split(/[\s,]+/).filter(Boolean);
          await guarded(async () => {
            const { body } = await api('PUT', `/contents/${it.id}/tags`, null, { tags: wanted });
            it.tags = body.tags;
            show(body.tags);
            flash('');
          });
        } }, input, el('button', { type: 'submit', text: 'Save', testid: 'tags-save' }),
        el('button', { type: 'button', text: 'Cancel', onclick: () => show(tags) }));
        box.replaceChildren(form);
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      } });
      box.replaceChildren(tags.length ? tagList(tags) : el('p', { class: 'muted', text: 'No tags.' }), edit);
      box.querySelector('ul.tags')?.setAttribute('data-testid', 'item-tags');
    };
    show(it.tags || []);
  }
  async function showItem(id) {
    $('view-list').hidden = true;
    const box = $('view-item');
    box.hidden = false;
    box.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
    let it;
    try {
      it = (await api('GET', `/contents/${id}`)).body;
    } catch (e) {
      box.replaceChildren(el('p', {}, navLink('/', '← Library')), el('p', { class: 'muted', text: e instanceof AuthNeeded ? 'An API key is needed.' : String(e.message) }));
      if (!(e instanceof AuthNeeded)) flash(String(e.message), true);
      return;
    }
    const title = titleOf(it);
    document.title = shortText(title, 60) + ' · VaultStream';
    const media = it.media || [];
    const images = media.filter((m) => !isVideo(m) && m.status === 'archived' && m.url);
    const videos = media.filter((m) => isVideo(m) && m.status === 'archived' && m.url);
    gallery = images;
    const altOf = (i) => `Picture ${i + 1} of ${images.length}: ${shortText(title, 100)}`;
    const h1 = el('h1', { text: title, tabindex: '-1', testid: 'item-title' });
    const author = it.author ? (it.author.url ? extLink(it.author.url, it.author.name || it.author.id) : el('span', { text: it.author.name || it.author.id || '' })) : null;
    const meta = el('p', { class: 'meta', testid: 'item-meta' },
      el('span', { text: it.platform + ' · ' + it.kind }), author ? el('span', {}, author) : null,
      el('span', {}, timeEl(it.published_at || it.created_at)), ...badges(it, { videos: videos.length }));
    const parts = [head(), h1, meta, el('p', {}, extLink(it.canonical_url, 'Open the original ↗', 'item-original'))];
    function head() { return el('p', {}, navLink('/', '← Library', { testid: 'back' })); }
    // Text: the parts in order when there are parts, else the item's text.
    if (Array.isArray(it.parts) && it.parts.length) {
      const ol = el('ol', { class: 'parts', testid: 'item-parts' });
      for (const [i, p] of it.parts.entries()) {
        const own = images.map((m, k) => [m, k]).filter(([m]) => m.part === (p.index ?? i));
        const pa = p.author && (p.author.name || p.author.id);
        ol.append(el('li', { class: p.shared ? 'shared' : '', testid: 'part-' + i },
          p.title ? el('h3', { text: p.title }) : null,
          el('p', { class: 'meta' }, pa ? el('span', { text: pa }) : null, timeEl(p.published_at), p.url ? extLink(p.url, 'link') : null, p.shared ? el('span', { text: 'shared' }) : null),
          paragraphs(p.text, 'part-text-' + i),
          own.length ? el('div', { class: 'gallery' }, ...own.map(([m, k]) => thumbButton(m, k, altOf(k)))) : null));
      }
      parts.push(ol);
    } else if (it.text) {
      parts.push(paragraphs(it.text, 'item-text'));
    }
    if (images.length) {
      parts.push(el('h2', { text: `Pictures (${images.length})` }),
        el('div', { class: 'gallery', testid: 'gallery' }, ...images.map((m, i) => thumbButton(m, i, altOf(i)))));
    }
    if (videos.length) parts.push(el('h2', { text: videos.length > 1 ? 'Videos' : 'Video' }), ...videos.map((m, i) => videoPlayer(m, `Video ${i + 1}: ${shortText(title, 100)}`)));
    const tagsBox = el('div', { testid: 'item-tags-box' });
    tagEditor(it, tagsBox);
    parts.push(el('h2', { text: 'Tags' }), tagsBox);
    const stats = Object.entries(it.stats || {}).filter(([, v]) => typeof v === 'number');
    if (stats.length) {
      parts.push(el('h2', { text: 'Stats' }), el('dl', { class: 'facts', testid: 'item-stats' },
        ...stats.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v.toLocaleString() })])));
    }
    const historyBox = el('div', { testid: 'item-history-box' }, el('p', { class: 'muted', text: 'Loading…' }));
    parts.push(el('h2', { text: 'History' }), historyBox);
    parts.push(el('h2', { text: 'Submitted' }), el('ul', { class: 'sources', testid: 'item-sources' },
      ...(it.sources || []).map((s) => el('li', { testid: 'source-' + s.id },
        el('strong', { text: s.submitted_by || 'someone' }), ` via ${s.channel}, `, timeEl(s.created_at),
        s.note ? el('div', { text: 'Note: ' + s.note }) : null,
        el('div', { class: 'muted', text: shortText(s.raw_text, 300) })))));
    parts.push(el('h2', { text: 'Archive' }), el('p', { class: 'muted', text: `Item ${it.status}; files ${it.media_status}.`, testid: 'item-state' }),
      media.length ? el('ul', { class: 'files', testid: 'item-files' }, ...media.map(fileLine)) : null);
    box.replaceChildren(el('div', { class: 'item' }, ...parts.filter(Boolean)));
    api('GET', `/contents/${id}/history`)
      .then(({ body }) => historyBox.replaceChildren(upstreamView.panel(body)))
      .catch((e) => historyBox.replaceChildren(el('p', { class: 'muted', text: 'History unavailable: ' + e.message })));
    h1.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }

  // --- the viewer ---------------------------------------------------------
  function openViewer(i) {
    if (!gallery.length) return;
    galleryAt = (i + gallery.length) % gallery.length;
    const m = gallery[galleryAt];
    const img = $('viewer-img');
    img.removeAttribute('src');
    img.alt = `Picture ${galleryAt + 1} of ${gallery.length}: ${shortText(document.title, 100)}`;
    setSrc(img, m.url, true);
    $('viewer-pos').textContent = `${galleryAt + 1} / ${gallery.length}`;
    const href = safeHref(m.url);
    $('viewer-open').hidden = !href || needsKey(href);
    if (href) $('viewer-open').href = href;
    const d = $('viewer');
    if (!d.open) d.showModal();
  }
  const step = (n) => openViewer(galleryAt + n);
  $('viewer-prev').addEventListener('click', () => step(-1));
  $('viewer-next').addEventListener('click', () => step(1));
  $('viewer-close').addEventListener('click', () => $('viewer').close());
  $('viewer').addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
    else if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
    else if (e.key === 'Home') { e.preventDefault(); openViewer(0); }
    else if (e.key === 'End') { e.preventDefault(); openViewer(gallery.length - 1); }
  });
  let swipeX = null;
  $('viewer').addEventListener('pointerdown', (e) => { swipeX = e.clientX; });
  $('viewer').addEventListener('pointerup', (e) => {
    if (swipeX === null) return;
    const dx = e.clientX - swipeX;
    swipeX = null;
    if (Math.abs(dx) > 50) step(dx < 0 ? 1 : -1);
  });
  $('viewer').addEventListener('click', (e) => { if (e.target === $('viewer')) $('viewer').close(); });

  // --- submitting ---------------------------------------------------------
  function toggleSubmit(open) {
    $('submit').hidden = !open;
    $('submit-open').setAttribute('aria-expanded', String(open));
    if (open) $('share-text').focus();
  }
  async function submitShare(text, tags, note) {
    const out = $('submit-result');
    out.replaceChildren('Archiving…');
    try {
      const { body } = await api('POST', '/shares', null, { url: text, tags, note: note || undefined });
      out.replaceChildren(body.created ? 'Archived as a new item: ' : 'Already archived: ',
        navLink('/items/' + body.content_id, `#${body.content_id} ${body.platform} ${body.kind}`, { testid: 'submit-result-link' }),
        el('span', { class: 'muted', text: body.created ? ' (its content arrives in a moment)' : '' }));
      out.dataset.created = String(body.created);
      $('share-text').value = '';
      list.key = null; // the list shows it when next rendered
    } catch (e) {
      out.replaceChildren(el('span', { class: 'state-failed', text: e instanceof AuthNeeded ? 'An API key is needed.' : String(e.message), testid: 'submit-error' }));
    }
  }
  $('submit-open').addEventListener('click', () => toggleSubmit($('submit').hidden));
  $('submit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const tags = $('share-tags').value.split(/[\s,]+/).filter(Boolean);
    submitShare($('share-text').value.trim(), tags, $('share-note').value.trim());
  });
  // The share target (manifest): /share?title=&text=&url= submits at once.
  async function fromShareSheet() {
    const p = new URLSearchParams(location.search);
    let text = (p.get('text') || '').trim();
    const url = (p.get('url') || '').trim();
    if (url && !text.includes(url)) text = (text + ' ' + url).trim();
    if (!text) text = (p.get('title') || '').trim();
    history.replaceState(null, '', '/');
    toggleSubmit(true);
    $('share-text').value = text;
    // Opened from a link on another site, not the share sheet: nothing is
    // archived until the person presses Save.
    if (document.body.dataset.shareConfirm === '1') {
      if (text) flash('A link from another site asks to archive this: check it, then press Save.');
      return;
    }
    if (text) await submitShare(text, [], '');
  }

  // --- routing ------------------------------------------------------------
  async function render() {
    flash('');
    if ($('viewer').open) $('viewer').close();
    const m = location.pathname.match(/^\/items\/(\d+)$/);
    if (m) return showItem(m[1]);
    if (location.pathname === '/share') {
      await fromShareSheet();
    }
    return showList();
  }
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[data-nav]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(a.getAttribute('href'));
  });
  window.addEventListener('popstate', render);
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); go('/?' + filtersFromForm()); });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); go('/?' + filtersFromForm()); });
  for (const id of ['f-platform', 'f-kind']) $(id).addEventListener('change', () => go('/?' + filtersFromForm()));
  $('f-clear').addEventListener('click', () => go('/?' + new URLSearchParams(params().layout === 'timeline' ? { layout: 'timeline' } : {})));
  for (const b of document.querySelectorAll('[data-layout]')) {
    b.addEventListener('click', () => {
      const p = filtersFromForm();
      if (b.dataset.layout === 'timeline') p.set('layout', 'timeline'); else p.delete('layout');
      history.replaceState(null, '', '/?' + p);
      fillFilters(params());
    });
  }
  $('more').addEventListener('click', () => guarded(loadMore));
  if ('IntersectionObserver' in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !$('view-list').hidden && list.cursor && !list.done) guarded(loadMore);
    }, { rootMargin: '600px' }).observe($('sentinel'));
  }
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const k = $('auth-key').value.trim();
    if (!k) return;
    sessionStorage.setItem(KEY, k);
    $('auth-key').value = '';
    $('auth').hidden = true;
    showKeyState();
    checkOperator();
    list.key = null;
    render();
  });
  $('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showKeyState();
    checkOperator();
    flash('Key forgotten.');
  });
  showKeyState();
  checkOperator();
  render();
})();
