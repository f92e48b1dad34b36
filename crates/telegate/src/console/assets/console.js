// telegate operator console: plain JavaScript, no build step, no library.
//
// Data: GET api/alerts and api/devices (fetch, bearer token), and the live
// stream api/events (EventSource, token in the query: it cannot send
// headers). Every string from the gateway or a device reaches the page as
// a text node or an attribute value, never as markup.
'use strict';
(() => {
  const TZ = 'Asia/Ho_Chi_Minh';
  const SEVERITIES = ['critical', 'warning', 'info'];
  const SEV_LABEL = { critical: '▲ Critical', warning: '◆ Warning', info: '● Info' };
  const STATUS_LABEL = { alerting: '▲ alerting', silent: '○ silent', ok: '✓ ok' };
  const DEVICES_EVERY_MS = 10000;
  // The stream carries every change; this only repairs what a lost event
  // could have left stale.
  const ALERTS_EVERY_MS = 60000;
  const RECENT_SHOWN = 30;
  const STORE_KEY = 'telegate-admin-token';

  const $ = (id) => document.getElementById(id);
  const state = { firing: new Map(), recent: [], devices: [], fresh: new Set(), events: 0, silentAfterNs: 0, silentKey: '' };
  let token = takeToken();
  let offsetMs = 0; // gateway clock minus browser clock
  let es = null;
  let refetchTimer = null;
  let retryTimer = null;

  class AuthError extends Error {}

  // ---- token ---------------------------------------------------------------

  // `#token=…` (never sent to the server) or `?token=…`; kept for this tab
  // only, and taken out of the address bar.
  function takeToken() {
    const found = param(location.hash.replace(/^#/, '')) ?? param(location.search.replace(/^\?/, ''));
    if (found !== null) {
      save(found);
      try {
        history.replaceState(null, '', location.pathname + stripToken(location.search));
      } catch (e) { /* keep the URL as it is */ }
      return found;
    }
    try { return sessionStorage.getItem(STORE_KEY) || ''; } catch (e) { return ''; }
  }
  // Not URLSearchParams: it would turn a `+` of a base64 token into a space.
  function param(qs) {
    for (const kv of qs.split('&')) {
      if (!kv.startsWith('token=')) continue;
      const raw = kv.slice(6);
      try { return decodeURIComponent(raw); } catch (e) { return raw; }
    }
    return null;
  }
  function stripToken(search) {
    const rest = search.replace(/^\?/, '').split('&').filter((kv) => kv && !kv.startsWith('token='));
    return rest.length ? '?' + rest.join('&') : '';
  }
  function save(t) {
    try { sessionStorage.setItem(STORE_KEY, t); } catch (e) { /* private mode: memory only */ }
  }
  // The admin middleware compares the raw query value: send URL-safe
  // tokens (hex, base64) unencoded.
  function tokenQuery() {
    if (!token) return '';
    return '?token=' + (/^[A-Za-z0-9._~+/=-]*$/.test(token) ? token : encodeURIComponent(token));
  }

  // ---- formatting ----------------------------------------------------------

  function formatter(opts) {
    try { return new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: TZ, hour12: false }); } catch (e) {
      return new Intl.DateTimeFormat('en-GB', { ...opts, hour12: false });
    }
  }
  const dateTime = formatter({ day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const clockFmt = formatter({ hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const nowMs = () => Date.now() + offsetMs;
  const when = (ns) => (ns ? dateTime.format(new Date(ns / 1e6)) : '—');
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + (Math.floor(s / 60) % 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + (Math.floor(s / 3600) % 24) + ' h';
  }
  const ago = (ns) => (ns ? span(nowMs() - ns / 1e6) + ' ago' : 'never');
  const num = (x) => (typeof x === 'number' && isFinite(x) ? String(Number(x.toFixed(2))).replace('-', '−') : '—');
  const sev = (s) => (SEVERITIES.includes(s) ? s : 'info');
  function compare(v, threshold) {
    if (typeof v !== 'number') return null;
    if (typeof threshold !== 'number') return num(v);
    return num(v) + (v >= threshold ? ' ≥ ' : ' ≤ ') + num(threshold);
  }
  // Silence is judged here, every second, from the last reading's arrival
  // time and the gateway's silent_after: a device that stops shows
  // "silent" at once, not at the next refresh.
  function deviceOf(id) { return id ? state.devices.find((d) => d.device_id === id) : undefined; }
  function lastSeenOf(a) {
    const d = deviceOf(a.series && a.series.device_id);
    return d ? d.last_seen_ns : a.last_seen_ns;
  }
  function silentAt(lastSeenNs) {
    return !!lastSeenNs && state.silentAfterNs > 0 && nowMs() * 1e6 - lastSeenNs > state.silentAfterNs;
  }
  function statusOf(d) {
    if (silentAt(d.last_seen_ns)) return 'silent';
    return d.firing > 0 ? 'alerting' : 'ok';
  }
  function lastValues(d) {
    const skip = new Set(['battery_pct', 'battery_v', 'rsrp_dbm']);
    const vals = Object.entries(d.last_values || {}).filter(([k]) => !skip.has(k)).slice(0, 3);
    return vals.map(([k, v]) => k + ' ' + num(v)).join(' · ') || '—';
  }
  function where(series) {
    const s = series || {};
    const parts = [s.device_id, s.site, s.measurement].filter(Boolean);
    for (const [k, v] of Object.entries(s.tags || {})) parts.push(k + '=' + v);
    return parts.join(' · ') || '—';
  }

  // Strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) n.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined && c !== false) n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }
  const badge = (s) => el('span', { class: 'sev sev-' + s }, SEV_LABEL[s]);
  const empty = (text) => el('p', { class: 'empty' }, text);

  // ---- rendering -----------------------------------------------------------

  function renderFiring() {
    const all = [...state.firing.values()];
    $('firing-count').textContent = all.length ? '(' + all.length + ')' : '';
    const groups = SEVERITIES.map((s) => {
      const items = all.filter((a) => sev(a.severity) === s).sort((a, b) => b.since_ns - a.since_ns);
      if (!items.length) return null;
      return el('div', { class: 'group group-' + s, id: 'sev-' + s },
        el('h3', {}, SEV_LABEL[s] + ' (' + items.length + ')'), items.map(alertCard));
    }).filter(Boolean);
    $('firing').replaceChildren(...(groups.length ? groups : [empty('No alert is firing.')]));
  }

  function alertCard(a) {
    const s = sev(a.severity);
    const seen = lastSeenOf(a);
    const silent = silentAt(seen);
    return el('article', { class: 'alert ' + s + (state.fresh.has(a.alert_id) ? ' fresh' : '') + (silent ? ' silent' : ''), 'data-alert-id': a.alert_id, 'data-severity': s, 'data-silent': silent ? 'true' : 'false', 'data-since-ns': String(a.since_ns || 0), 'data-episode-ns': String(a.episode_start_ns || 0), 'data-device': (a.series && a.series.device_id) || '', 'data-rule': a.rule_id },
      silent ? el('div', { class: 'silent-flag' }, '○ SILENT — no reading for ' + span(nowMs() - seen / 1e6) + ': the value below may be stale') : null,
      el('div', {}, badge(s), ' ', el('span', { class: 'title' }, a.rule_name || a.rule_id), ' ', el('span', { class: 'level' }, a.level),
        a.flapping ? [' ', el('span', { class: 'flapping' }, 'flapping')] : null),
      el('div', { class: 'meta' }, where(a.series),
        compare(a.value, a.threshold) && [' · ', el('span', { class: 'value' }, compare(a.value, a.threshold))],
        ' · last reading ', el('span', { class: 'nowrap age' }, ago(seen)),
        ' · since ', el('span', { class: 'nowrap since' }, when(a.since_ns) + ' (' + ago(a.since_ns) + ')'),
        a.episode_start_ns && a.episode_start_ns !== a.since_ns
          ? [' · episode from ', el('span', { class: 'nowrap episode' }, when(a.episode_start_ns))] : null),
      a.message ? el('div', { class: 'msg' }, a.message) : null);
  }

  // Recent transitions: filtered by severity, state entered and site; info
  // rows collapsed unless asked for; ordered by event time (newest first),
  // so a backfilled transition lands where it happened, marked "late".
  const filters = { severity: '', state: '', site: '', info: false };
  function readFilters() {
    filters.severity = $('f-severity').value;
    filters.state = $('f-state').value;
    filters.site = $('f-site').value;
    filters.info = $('f-info').checked;
    renderRecent();
  }
  // The site choices follow the transitions held; the choice made stays.
  function siteOptions(sites) {
    const sel = $('f-site');
    const have = [...sel.options].map((o) => o.value).slice(1).join('|');
    if (have === sites.join('|')) return;
    sel.replaceChildren(el('option', { value: '' }, 'all'), sites.map((x) => el('option', { value: x }, x)));
    sel.value = sites.includes(filters.site) ? filters.site : '';
  }

  function renderRecent() {
    const sites = [...new Set(state.recent.map((t) => (t.series && t.series.site) || '').filter(Boolean))].sort();
    const matching = state.recent.filter((t) => (!filters.severity || sev(t.severity) === filters.severity)
      && (!filters.state || t.to === filters.state)
      && (!filters.site || (t.series && t.series.site) === filters.site))
      .sort((a, b) => (b.event_time_ns - a.event_time_ns) || (b.evaluated_at_ns - a.evaluated_at_ns));
    // Info rows are collapsed unless "show info" is ticked or the severity
    // filter asks for them.
    const showInfo = filters.info || filters.severity === 'info';
    const hidden = showInfo ? 0 : matching.filter((t) => sev(t.severity) === 'info').length;
    const shown = matching.filter((t) => showInfo || sev(t.severity) !== 'info');
    const rows = shown.slice(0, RECENT_SHOWN).map((t) => {
      const s = sev(t.severity);
      const change = t.change + ' ' + (t.previous_level ? t.previous_level + ' → ' + t.level : t.level);
      return el('tr', { 'data-alert-id': t.alert_id, 'data-change': t.change, 'data-severity': s, 'data-late': t.late ? 'true' : 'false', class: t.late ? 'late' : null },
        el('td', { class: 'nowrap' }, when(t.event_time_ns),
          t.late ? [' ', el('span', { class: 'late-mark', title: 'backfilled: received ' + when(t.evaluated_at_ns) }, 'late')] : null),
        el('td', { class: 'change' }, change),
        el('td', {}, badge(s)),
        el('td', {}, t.rule_name || t.rule_id),
        el('td', {}, where(t.series)),
        el('td', { class: 'num' }, compare(t.value, t.threshold) || ''),
        el('td', { class: 'msg' }, t.message || ''));
    });
    const collapsed = hidden ? el('p', { class: 'muted collapsed', id: 'info-collapsed', 'data-hidden': String(hidden) },
      hidden + (hidden === 1 ? ' info transition' : ' info transitions') + ' collapsed (tick "show info")') : null;
    const table = rows.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['Event time', 'Change', 'Severity', 'Rule', 'Series', 'Value', 'Message'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)) : empty(state.recent.length ? 'No transition matches the filters.' : 'No transition yet.');
    siteOptions(sites);
    $('recent').replaceChildren(table, collapsed);
  }

  function battery(d) {
    const parts = [];
    if (typeof d.battery_pct === 'number') parts.push(Math.round(d.battery_pct) + ' %');
    if (typeof d.battery_v === 'number') parts.push(num(d.battery_v) + ' V');
    return parts.join(' · ') || '—';
  }
  // RSRP bands from the field notes (FIELD.md).
  function signal(dbm) {
    if (typeof dbm !== 'number') return '—';
    const q = dbm >= -80 ? 'excellent' : dbm >= -90 ? 'good' : dbm > -100 ? 'fair' : 'poor';
    return num(dbm) + ' dBm · ' + q;
  }

  // device_health is what the battery and signal columns show already.
  function sensors(types) {
    const list = types || [];
    const other = list.filter((t) => t !== 'device_health');
    return (other.length ? other : list).join(', ');
  }

  function renderDevices() {
    renderSilentCount();
    const list = state.devices;
    $('device-count').textContent = list.length ? '(' + list.length + ')' : '';
    if (!list.length) return $('devices').replaceChildren(empty('No device has reported yet.'));
    const bySite = new Map();
    for (const d of list) {
      const site = d.site || '(no site)';
      if (!bySite.has(site)) bySite.set(site, []);
      bySite.get(site).push(d);
    }
    const head = el('thead', {}, el('tr', {}, el('th', {}, 'Device'), el('th', {}, 'Status'), el('th', {}, 'Last seen'), el('th', {}, 'Last values'),
      el('th', { class: 'num' }, 'Battery'), el('th', { class: 'num' }, 'Signal (RSRP)'), el('th', {}, 'Sensors')));
    const bodies = [...bySite].map(([site, ds]) => {
      const count = (st) => ds.filter((d) => statusOf(d) === st).length;
      const summary = [ds.length + (ds.length === 1 ? ' device' : ' devices'),
        count('alerting') && count('alerting') + ' alerting', count('silent') && count('silent') + ' silent'].filter(Boolean).join(', ');
      return el('tbody', { class: 'site', 'data-site': site },
        el('tr', {}, el('th', { class: 'site', colspan: 7 }, site + ' — ' + summary)), ds.map(deviceRow));
    });
    $('devices').replaceChildren(el('table', {}, head, bodies));
  }

  function deviceRow(d) {
    const st = statusOf(d);
    const low = typeof d.battery_pct === 'number' && d.battery_pct < 20;
    // Silent and alerting: both shown, silent first and emphasised.
    const alerting = d.firing > 0 && st === 'silent'
      ? [' ', el('span', { class: 'status status-alerting also' }, STATUS_LABEL.alerting + (d.firing > 1 ? ' (' + d.firing + ')' : ''))] : null;
    return el('tr', { 'data-device': d.device_id, 'data-status': st, 'data-alerting': d.firing > 0 ? 'true' : 'false', 'data-last-seen-ns': String(d.last_seen_ns || 0) },
      el('td', {}, d.device_id),
      el('td', {}, el('span', { class: 'status status-' + st }, STATUS_LABEL[st] + (st === 'alerting' && d.firing > 1 ? ' (' + d.firing + ')' : '')), alerting),
      el('td', { class: 'nowrap last-seen', title: 'received ' + when(d.last_seen_ns) + ', newest sample ' + when(d.last_event_ns) }, when(d.last_seen_ns) + ' (' + ago(d.last_seen_ns) + ')'),
      el('td', { class: 'muted values' }, lastValues(d)),
      el('td', { class: 'num' + (low ? ' low' : '') }, battery(d)),
      el('td', { class: 'num' }, signal(d.signal_dbm)),
      el('td', { class: 'muted' }, sensors(d.sensor_types)));
  }

  function setConn(s) {
    const words = { connecting: '○ connecting…', live: '● live', reconnecting: '◌ reconnecting…', offline: '✕ gateway unreachable', unauthorized: '✕ token required' };
    $('conn').dataset.state = s;
    $('conn').textContent = words[s] || s;
  }
  function tick() {
    $('clock').textContent = clockFmt.format(new Date(nowMs())) + ' ICT';
    // Re-render when a device's silence flips, not only on refresh.
    const key = state.devices.filter((d) => silentAt(d.last_seen_ns)).map((d) => d.device_id).join(',');
    if (key !== state.silentKey) {
      state.silentKey = key;
      renderDevices();
      renderFiring();
    }
  }
  function renderSilentCount() {
    const n = state.devices.filter((d) => silentAt(d.last_seen_ns)).length;
    const c = $('silent-count');
    c.dataset.silent = String(n);
    c.textContent = n ? '○ ' + n + (n === 1 ? ' device silent' : ' devices silent') : '';
  }

  // ---- data ----------------------------------------------------------------

  async function getJSON(path) {
    const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
    if (r.status === 401) throw new AuthError('token required');
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    const body = await r.json();
    if (typeof body.now_ns === 'number') offsetMs = body.now_ns / 1e6 - Date.now();
    return body;
  }
  async function refreshAlerts() {
    const b = await getJSON('api/alerts');
    state.firing = new Map((b.firing || []).map((a) => [a.alert_id, a]));
    state.recent = b.recent || [];
    renderFiring();
    renderRecent();
  }
  async function refreshDevices() {
    const b = await getJSON('api/devices');
    state.devices = b.devices || [];
    if (typeof b.silent_after_ns === 'number') state.silentAfterNs = b.silent_after_ns;
    renderDevices();
    renderFiring(); // ages move on
    $('updated').textContent = 'devices updated ' + clockFmt.format(new Date(nowMs()));
  }
  // True when both answered; shows why not otherwise.
  async function refreshAll() {
    try {
      await Promise.all([refreshAlerts(), refreshDevices()]);
      return true;
    } catch (e) {
      failed(e);
      return false;
    }
  }
  function failed(e) {
    if (e instanceof AuthError) {
      if (es) { es.close(); es = null; }
      setConn('unauthorized');
      $('login').hidden = false;
      $('login-msg').textContent = token ? 'That token was refused.' : 'This gateway requires its admin token.';
    } else if (!es || es.readyState !== EventSource.OPEN) {
      setConn('offline');
    }
  }

  // Show a change at once; the refetch that follows replaces the guess with
  // the gateway's own view (episode start, de-duplicated history).
  function onTransition(ev) {
    let t;
    try { t = JSON.parse(ev.data); } catch (e) { return; }
    state.events += 1;
    document.body.dataset.events = String(state.events);
    const key = (x) => [x.alert_id, x.change, x.event_time_ns, x.evaluated_at_ns].join('|');
    if (!state.recent.slice(0, 50).some((x) => key(x) === key(t))) state.recent.unshift(t);
    if (t.to === 'flapping') {
      state.firing.set(t.alert_id, { ...t, since_ns: t.event_time_ns, flapping: true });
    } else if (t.to === 'firing') {
      const old = state.firing.get(t.alert_id);
      // "since" is when the current level was entered: a level change
      // restarts it, a re-notification does not.
      const since = old && t.change === 'renotified' ? old.since_ns : t.event_time_ns;
      state.firing.set(t.alert_id, { ...t, since_ns: since });
      state.fresh.add(t.alert_id);
      setTimeout(() => state.fresh.delete(t.alert_id), 3000);
    } else if (t.to === 'resolved' || t.to === 'ok') {
      state.firing.delete(t.alert_id);
    }
    renderFiring();
    renderRecent();
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => { refreshAll(); }, 700);
  }

  function connect() {
    if (es) es.close();
    setConn('connecting');
    es = new EventSource('api/events' + tokenQuery());
    // Subscribed server-side before `open`: fetching now leaves no gap.
    es.onopen = () => { setConn('live'); refreshAll(); };
    es.onerror = () => {
      if (es && es.readyState === EventSource.CLOSED) {
        // Refused (not a dropped link, which the browser retries itself):
        // find out why, then try again.
        es = null;
        setConn('offline');
        schedule(start, 5000);
      } else {
        setConn('reconnecting');
      }
    };
    es.addEventListener('transition', onTransition);
    es.addEventListener('lagged', () => { refreshAll(); });
  }
  function schedule(f, ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(f, ms);
  }
  async function start() {
    if (await refreshAll()) {
      $('login').hidden = true;
      connect();
    } else if ($('conn').dataset.state !== 'unauthorized') {
      schedule(start, 5000);
    }
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token-input').value.trim();
    save(token);
    $('token-input').value = '';
    start();
  });
  $('recent-filters').addEventListener('change', readFilters);
  setInterval(tick, 1000);
  setInterval(() => { if (es) refreshDevices().catch(failed); }, DEVICES_EVERY_MS);
  setInterval(() => { if (es) refreshAlerts().catch(failed); }, ALERTS_EVERY_MS);
  tick();
  start();
})();
