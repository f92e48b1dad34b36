// telegate operator console: plain JavaScript, no build step, no library.
// Every UI string goes through t() (i18n.js, loaded first); every time
// through fmtTime()/fmtClock() (dd/mm/yyyy HH:MM, ICT).
//
// Data: GET api/alerts, api/devices, api/silences, api/audit (fetch), and
// the live stream api/events (EventSource): `transition`, `ack`,
// `silences`. Who is asking: an operator's session (login form, cookie,
// CSRF token sent back in X-CSRF-Token on every change), or the admin
// token (token form; Authorization: Bearer, `?token=` for the stream), or
// nobody when the gateway needs neither (data-auth="open"). Every string
// from the gateway or a device reaches the page as a text node or an
// attribute value, never as markup.
'use strict';
(() => {
  const SEVERITIES = ['critical', 'warning', 'info'];
  const SEV_RANK = { info: 0, warning: 1, critical: 2 };
  const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
  const DEVICES_EVERY_MS = 10000;
  // The stream carries every change; this only repairs what a lost event
  // could have left stale.
  const ALERTS_EVERY_MS = 60000;
  const AUDIT_EVERY_MS = 30000;
  const RECENT_SHOWN = 30;
  const AUDIT_SHOWN = 50;
  const STORE_KEY = 'telegate-admin-token';
  const SOUND_KEY = 'telegate-sound';
  const DURATIONS = ['30m', '1h', '2h', '4h', '8h', '24h', '3d'];
  const AUTH_MODE = document.documentElement.dataset.auth || 'token';

  const $ = (id) => document.getElementById(id);
  const state = {
    firing: new Map(), recent: [], devices: [], acks: new Map(), silences: [], audit: [],
    fresh: new Set(), events: 0, alarms: 0, silentAfterNs: 0, silentKey: '', openAck: null,
  };
  const me = { user: '', role: 'viewer', auth: '', csrf: '' };
  let token = AUTH_MODE === 'token' ? takeToken() : '';
  let offsetMs = 0; // gateway clock minus browser clock
  let es = null;
  let refetchTimer = null;
  let retryTimer = null;

  class AuthError extends Error {}

  // ---- token (no operator accounts) ------------------------------------------

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
  function save(tk) {
    try { sessionStorage.setItem(STORE_KEY, tk); } catch (e) { /* private mode: memory only */ }
  }
  // The admin middleware compares the raw query value: send URL-safe
  // tokens (hex, base64) unencoded.
  function tokenQuery() {
    if (!token) return '';
    return '?token=' + (/^[A-Za-z0-9._~+/=-]*$/.test(token) ? token : encodeURIComponent(token));
  }

  // ---- formatting ----------------------------------------------------------

  const nowMs = () => Date.now() + offsetMs;
  const when = (ns) => (ns ? fmtTime(ns / 1e6) : '—');
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return t('span.s', { n: s });
    if (s < 3600) return t('span.min', { n: Math.floor(s / 60) });
    if (s < 86400) return t('span.h', { h: Math.floor(s / 3600), m: Math.floor(s / 60) % 60 });
    return t('span.d', { d: Math.floor(s / 86400), h: Math.floor(s / 3600) % 24 });
  }
  const ago = (ns) => (ns ? t('ago', { span: span(nowMs() - ns / 1e6) }) : t('never'));
  const num = (x) => (typeof x === 'number' && isFinite(x) ? String(Number(x.toFixed(2))).replace('-', '−') : '—');
  const sev = (s) => (SEVERITIES.includes(s) ? s : 'info');
  const plural = (key, n) => t(key + (n === 1 ? '.one' : '.many'), { n });
  const can = (role) => ROLE_RANK[me.role] >= ROLE_RANK[role];
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
  // The operator layer's rules, mirrored for live display: a silence
  // covers a rule, a device or a site until it ends; an ack covers its
  // alert at the acknowledged severity or a lower one.
  function silenceOf(ruleId, series) {
    const s = series || {};
    const now = nowMs() * 1e6;
    return state.silences.find((x) => x.until_ns > now && (
      (x.scope === 'rule' && x.value === ruleId) || (x.scope === 'device' && x.value === s.device_id)
      || (x.scope === 'site' && x.value === s.site)));
  }
  function ackOf(a) {
    const ack = state.acks.get(a.alert_id);
    return ack && SEV_RANK[sev(a.severity)] <= SEV_RANK[sev(ack.severity)] ? ack : null;
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
  const badge = (s) => el('span', { class: 'sev sev-' + s }, t('sev.' + s));
  const empty = (text) => el('p', { class: 'empty' }, text);

  // ---- filters ---------------------------------------------------------------

  const filters = { severity: '', state: '', site: '', ack: '', info: false };
  function readFilters() {
    filters.severity = $('f-severity').value;
    filters.state = $('f-state').value;
    filters.site = $('f-site').value;
    filters.ack = $('f-ack').value;
    filters.info = $('f-info').checked;
    renderAll();
  }
  // The site choices follow the devices and transitions held; the choice
  // made stays.
  function siteOptions() {
    const sites = [...new Set([...state.devices.map((d) => d.site), ...state.recent.map((x) => x.series && x.series.site),
      ...[...state.firing.values()].map((a) => a.series && a.series.site)].filter(Boolean))].sort();
    const sel = $('f-site');
    const have = [...sel.options].map((o) => o.value).slice(1).join('|');
    if (have === sites.join('|') && sel.options[0].textContent === t('filter.all')) return;
    sel.replaceChildren(el('option', { value: '' }, t('filter.all')), ...sites.map((x) => el('option', { value: x }, x)));
    sel.value = sites.includes(filters.site) ? filters.site : '';
  }
  function optionsOf(id, values, labelKey) {
    const sel = $(id);
    const chosen = sel.value;
    sel.replaceChildren(el('option', { value: '' }, t('filter.all')),
      ...values.map((v) => el('option', { value: v }, t(labelKey + v))));
    sel.value = chosen;
  }
  function filterOptions() {
    optionsOf('f-severity', SEVERITIES, 'sevname.');
    optionsOf('f-state', ['firing', 'resolved', 'pending', 'ok', 'flapping'], 'state.');
    const ack = $('f-ack');
    const chosen = ack.value;
    ack.replaceChildren(el('option', { value: '' }, t('filter.all')), el('option', { value: 'unacked' }, t('filter.unacked')),
      el('option', { value: 'acked' }, t('filter.acked')), el('option', { value: 'silenced' }, t('filter.silenced')));
    ack.value = chosen;
    siteOptions();
  }

  // ---- rendering -----------------------------------------------------------

  function renderAll() {
    siteOptions();
    renderSilences();
    renderFiring();
    renderDevices();
    renderRecent();
    renderAudit();
  }

  function cardMatches(a) {
    if (filters.severity && sev(a.severity) !== filters.severity) return false;
    if (filters.site && (a.series && a.series.site) !== filters.site) return false;
    const acked = !!ackOf(a);
    const silenced = !!silenceOf(a.rule_id, a.series);
    if (filters.ack === 'acked' && !acked) return false;
    if (filters.ack === 'unacked' && (acked || silenced)) return false;
    if (filters.ack === 'silenced' && !silenced) return false;
    return true;
  }

  function renderFiring() {
    const all = [...state.firing.values()];
    const shown = all.filter(cardMatches);
    $('firing-count').textContent = all.length ? '(' + all.length + ')' : '';
    const groups = SEVERITIES.map((s) => {
      const items = shown.filter((a) => sev(a.severity) === s).sort((a, b) => b.since_ns - a.since_ns);
      if (!items.length) return null;
      return el('div', { class: 'group group-' + s, id: 'sev-' + s },
        el('h3', {}, t('sev.' + s) + ' (' + items.length + ')'), items.map(alertCard));
    }).filter(Boolean);
    const none = all.length ? t('alerts.nomatch') : t('alerts.none');
    $('firing').replaceChildren(...(groups.length ? groups : [empty(none)]));
    const input = state.openAck && document.querySelector('.ack-form[data-alert-id="' + CSS.escape(state.openAck.id) + '"] input');
    if (input) { input.value = state.openAck.note; input.focus(); }
  }

  function alertCard(a) {
    const s = sev(a.severity);
    const seen = lastSeenOf(a);
    const silent = silentAt(seen);
    const ack = ackOf(a);
    const silence = silenceOf(a.rule_id, a.series);
    const cls = 'alert ' + s + (state.fresh.has(a.alert_id) ? ' fresh' : '') + (silent ? ' silent' : '')
      + (ack ? ' acked' : '') + (silence ? ' silenced' : '');
    return el('article', { class: cls, 'data-alert-id': a.alert_id, 'data-severity': s, 'data-silent': silent ? 'true' : 'false', 'data-since-ns': String(a.since_ns || 0), 'data-episode-ns': String(a.episode_start_ns || 0), 'data-device': (a.series && a.series.device_id) || '', 'data-site': (a.series && a.series.site) || '', 'data-acked': ack ? 'true' : 'false', 'data-ack-by': ack ? ack.by : '', 'data-silenced': silence ? silence.id : '', 'data-rule': a.rule_id },
      silent ? el('div', { class: 'silent-flag' }, t('card.silentFlag', { span: span(nowMs() - seen / 1e6) })) : null,
      el('div', {}, badge(s), ' ', el('span', { class: 'title' }, a.rule_name || a.rule_id), ' ', el('span', { class: 'level' }, a.level),
        a.flapping ? [' ', el('span', { class: 'flapping' }, t('card.flapping'))] : null),
      el('div', { class: 'meta' }, where(a.series),
        compare(a.value, a.threshold) && [' · ', el('span', { class: 'value' }, compare(a.value, a.threshold))],
        ' · ' + t('card.lastReading') + ' ', el('span', { class: 'nowrap age' }, ago(seen)),
        ' · ' + t('card.since') + ' ', el('span', { class: 'nowrap since' }, when(a.since_ns) + ' (' + ago(a.since_ns) + ')'),
        a.episode_start_ns && a.episode_start_ns !== a.since_ns
          ? [' · ' + t('card.episode') + ' ', el('span', { class: 'nowrap episode' }, when(a.episode_start_ns))] : null),
      a.message ? el('div', { class: 'msg' }, a.message) : null,
      silence ? el('div', { class: 'silenced-flag' }, t('card.silenced', { id: silence.id })) : null,
      ack ? el('div', { class: 'ack' }, el('span', { class: 'ack-who' }, t('ack.by', { by: ack.by, when: when(ack.at_ns) })),
        ack.note ? [': ', el('span', { class: 'ack-note-text' }, ack.note)] : null) : null,
      !ack && can('operator') ? ackControls(a) : null);
  }

  function ackControls(a) {
    if (!state.openAck || state.openAck.id !== a.alert_id) {
      return el('div', { class: 'actions' }, el('button', { type: 'button', class: 'ack-btn', 'data-alert-id': a.alert_id }, t('ack.button')));
    }
    return el('form', { class: 'ack-form', 'data-alert-id': a.alert_id },
      el('input', { type: 'text', class: 'ack-note', maxlength: '500', placeholder: t('ack.note'), 'aria-label': t('ack.note') }),
      el('button', { type: 'submit', class: 'ack-send' }, t('ack.send')),
      el('button', { type: 'button', class: 'ack-cancel' }, t('cancel')),
      el('span', { class: 'ack-msg muted', role: 'status' }, state.openAck.msg || ''));
  }

  function renderSilences() {
    const now = nowMs() * 1e6;
    const active = state.silences.filter((s) => s.until_ns > now);
    $('silence-banner').hidden = !active.length;
    $('silence-banner').replaceChildren(...active.map((s) => el('div', { class: 'silence', 'data-silence-id': s.id, 'data-scope': s.scope, 'data-value': s.value },
      t('silence.banner', { scope: t('scope.' + s.scope), value: s.value, until: when(s.until_ns), by: s.by, reason: s.reason }),
      can('operator') ? [' ', el('button', { type: 'button', class: 'silence-end', 'data-silence-id': s.id }, t('silence.end'))] : null)));
    $('silence-form').hidden = !can('operator');
  }

  // An escalation's message is the gateway's English "not acknowledged
  // for 15m: " and the alert's own message: the first part in the page's
  // language, the rule's message as written.
  function messageOf(x) {
    const m = x.message || '';
    const r = x.change === 'unacknowledged' ? /^not acknowledged for ([^:]+): ([\s\S]*)$/.exec(m) : null;
    return r ? t('msg.unacked', { span: r[1], message: r[2] }) : m;
  }

  function recentMatches(x) {
    return (!filters.severity || sev(x.severity) === filters.severity)
      && (!filters.state || x.to === filters.state)
      && (!filters.site || (x.series && x.series.site) === filters.site);
  }

  // Recent transitions: filtered by severity, state entered and site; info
  // rows collapsed unless asked for; ordered by event time (newest first),
  // so a backfilled transition lands where it happened, marked "late".
  function renderRecent() {
    const matching = state.recent.filter(recentMatches)
      .sort((a, b) => (b.event_time_ns - a.event_time_ns) || (b.evaluated_at_ns - a.evaluated_at_ns));
    // Info rows are collapsed unless "show info" is ticked or the severity
    // filter asks for them.
    const showInfo = filters.info || filters.severity === 'info';
    const hidden = showInfo ? 0 : matching.filter((x) => sev(x.severity) === 'info').length;
    const shown = matching.filter((x) => showInfo || sev(x.severity) !== 'info');
    const rows = shown.slice(0, RECENT_SHOWN).map((x) => {
      const s = sev(x.severity);
      const change = t('change.' + x.change) + ' ' + (x.previous_level ? x.previous_level + ' → ' + x.level : x.level);
      return el('tr', { 'data-alert-id': x.alert_id, 'data-change': x.change, 'data-severity': s, 'data-late': x.late ? 'true' : 'false', 'data-silenced': x.silenced_by || '', class: x.late ? 'late' : null },
        el('td', { class: 'nowrap' }, when(x.event_time_ns),
          x.late ? [' ', el('span', { class: 'late-mark', title: t('late.title', { when: when(x.evaluated_at_ns) }) }, t('late'))] : null),
        el('td', { class: 'change' }, change,
          x.silenced_by ? [' ', el('span', { class: 'silenced-mark' }, '🔕 ' + t('silencedMark'))] : null),
        el('td', {}, badge(s)),
        el('td', {}, x.rule_name || x.rule_id),
        el('td', {}, where(x.series)),
        el('td', { class: 'num' }, compare(x.value, x.threshold) || ''),
        el('td', { class: 'msg' }, messageOf(x)));
    });
    const collapsed = hidden ? el('p', { class: 'muted collapsed', id: 'info-collapsed', 'data-hidden': String(hidden) },
      plural('collapsed', hidden)) : null;
    const table = rows.length ? el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ['th.eventTime', 'th.change', 'th.severity', 'th.rule', 'th.series', 'th.value', 'th.message'].map((h) => el('th', {}, t(h))))),
      el('tbody', {}, rows))) : empty(state.recent.length ? t('recent.nomatch') : t('recent.none'));
    // replaceChildren would write a null as the text "null".
    $('recent').replaceChildren(...[table, collapsed].filter(Boolean));
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
    return num(dbm) + ' dBm · ' + t('signal.' + q);
  }

  // device_health is what the battery and signal columns show already.
  function sensors(types) {
    const list = types || [];
    const other = list.filter((x) => x !== 'device_health');
    return (other.length ? other : list).join(', ');
  }

  function renderDevices() {
    renderSilentCount();
    const list = state.devices.filter((d) => !filters.site || d.site === filters.site);
    $('device-count').textContent = state.devices.length ? '(' + state.devices.length + ')' : '';
    if (!list.length) return $('devices').replaceChildren(empty(t('devices.none')));
    const bySite = new Map();
    for (const d of list) {
      const site = d.site || t('site.none');
      if (!bySite.has(site)) bySite.set(site, []);
      bySite.get(site).push(d);
    }
    const head = el('thead', {}, el('tr', {}, el('th', {}, t('th.device')), el('th', {}, t('th.status')), el('th', {}, t('th.lastSeen')), el('th', {}, t('th.lastValues')),
      el('th', { class: 'num' }, t('th.battery')), el('th', { class: 'num' }, t('th.signal')), el('th', {}, t('th.sensors'))));
    const bodies = [...bySite].map(([site, ds]) => {
      const count = (st) => ds.filter((d) => statusOf(d) === st).length;
      const summary = [plural('site.devices', ds.length),
        count('alerting') && t('site.alerting', { n: count('alerting') }), count('silent') && t('site.silent', { n: count('silent') })].filter(Boolean).join(', ');
      return el('tbody', { class: 'site', 'data-site': site },
        el('tr', {}, el('th', { class: 'site', colspan: 7 }, site + ' — ' + summary)), ds.map(deviceRow));
    });
    $('devices').replaceChildren(el('div', { class: 'scroll' }, el('table', {}, head, bodies)));
  }

  function deviceRow(d) {
    const st = statusOf(d);
    const low = typeof d.battery_pct === 'number' && d.battery_pct < 20;
    // Silent and alerting: both shown, silent first and emphasised.
    const alerting = d.firing > 0 && st === 'silent'
      ? [' ', el('span', { class: 'status status-alerting also' }, t('status.alerting') + (d.firing > 1 ? ' (' + d.firing + ')' : ''))] : null;
    return el('tr', { 'data-device': d.device_id, 'data-status': st, 'data-alerting': d.firing > 0 ? 'true' : 'false', 'data-last-seen-ns': String(d.last_seen_ns || 0) },
      el('td', {}, d.device_id),
      el('td', {}, el('span', { class: 'status status-' + st }, t('status.' + st) + (st === 'alerting' && d.firing > 1 ? ' (' + d.firing + ')' : '')), alerting),
      el('td', { class: 'nowrap last-seen', title: t('device.title', { seen: when(d.last_seen_ns), sample: when(d.last_event_ns) }) }, when(d.last_seen_ns) + ' (' + ago(d.last_seen_ns) + ')'),
      el('td', { class: 'muted values' }, lastValues(d)),
      el('td', { class: 'num' + (low ? ' low' : '') }, battery(d)),
      el('td', { class: 'num' }, signal(d.signal_dbm)),
      el('td', { class: 'muted' }, sensors(d.sensor_types)));
  }

  function renderAudit() {
    const rows = state.audit.slice(0, AUDIT_SHOWN).map((e) => el('tr', { 'data-action': e.action, 'data-who': e.who },
      el('td', { class: 'nowrap' }, fmtTime(Date.parse(e.time))),
      el('td', {}, e.who + (e.role ? ' (' + t('role.' + e.role) + ')' : '')),
      el('td', {}, t('action.' + e.action)),
      el('td', {}, e.target || ''),
      el('td', { class: 'msg' }, e.note || ''),
      el('td', { class: 'muted' }, e.addr || '')));
    $('audit').replaceChildren(rows.length ? el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ['th.time', 'th.who', 'th.action', 'th.target', 'th.note', 'th.addr'].map((h) => el('th', {}, t(h))))),
      el('tbody', {}, rows))) : empty(t('audit.none')));
  }

  function setConn(s) {
    const key = s === 'unauthorized' && AUTH_MODE === 'users' ? 'conn.login' : 'conn.' + s;
    $('conn').dataset.state = s;
    $('conn').textContent = t(key);
  }
  function tick() {
    $('clock').textContent = fmtClock(nowMs()) + ' ICT';
    // Re-render when a device's silence flips, or a silence ends, not only on refresh.
    const now = nowMs() * 1e6;
    const key = state.devices.filter((d) => silentAt(d.last_seen_ns)).map((d) => d.device_id).join(',')
      + '|' + state.silences.filter((s) => s.until_ns > now).map((s) => s.id).join(',');
    if (key !== state.silentKey) {
      state.silentKey = key;
      renderSilences();
      renderDevices();
      renderFiring();
    }
  }
  function renderSilentCount() {
    const n = state.devices.filter((d) => silentAt(d.last_seen_ns)).length;
    const c = $('silent-count');
    c.dataset.silent = String(n);
    c.textContent = n ? plural('silent', n) : '';
  }
  function renderWho() {
    const who = $('who');
    const show = me.auth === 'session';
    who.hidden = !show;
    $('logout').hidden = !show;
    who.textContent = show ? t('who', { user: me.user, role: t('role.' + me.role) }) : '';
    document.body.dataset.role = me.role;
  }

  // ---- data ----------------------------------------------------------------

  function headers(extra) {
    const h = { ...(extra || {}) };
    if (token) h.Authorization = 'Bearer ' + token;
    if (me.csrf) h['X-CSRF-Token'] = me.csrf;
    return h;
  }
  async function getJSON(path) {
    const r = await fetch(path, { headers: headers(), cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401) throw new AuthError('login required');
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    const body = await r.json();
    if (typeof body.now_ns === 'number') offsetMs = body.now_ns / 1e6 - Date.now();
    return body;
  }
  // A change: JSON in, JSON (or an error message) out.
  async function send(method, path, body) {
    const r = await fetch(path, {
      method, credentials: 'same-origin', cache: 'no-store',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = {};
    try { json = await r.json(); } catch (e) { /* empty */ }
    return { ok: r.ok, status: r.status, json };
  }
  async function refreshSession() {
    const b = await getJSON('api/session');
    me.user = b.user; me.role = b.role; me.auth = b.auth; me.csrf = b.csrf || '';
    renderWho();
  }
  async function refreshAlerts() {
    const b = await getJSON('api/alerts');
    state.firing = new Map((b.firing || []).map((a) => [a.alert_id, a]));
    state.acks = new Map((b.firing || []).filter((a) => a.ack).map((a) => [a.alert_id, a.ack]));
    state.recent = b.recent || [];
    state.silences = b.silences || [];
    renderSilences();
    renderFiring();
    renderRecent();
    siteOptions();
  }
  async function refreshDevices() {
    const b = await getJSON('api/devices');
    state.devices = b.devices || [];
    if (typeof b.silent_after_ns === 'number') state.silentAfterNs = b.silent_after_ns;
    renderDevices();
    renderFiring(); // ages move on
    siteOptions();
    $('updated').textContent = t('updated', { t: fmtClock(nowMs()) });
  }
  async function refreshAudit() {
    const b = await getJSON('api/audit?limit=' + AUDIT_SHOWN);
    state.audit = b.entries || [];
    renderAudit();
  }
  // True when all answered; shows why not otherwise.
  async function refreshAll() {
    try {
      await refreshSession();
      await Promise.all([refreshAlerts(), refreshDevices(), refreshAudit()]);
      return true;
    } catch (e) {
      failed(e);
      return false;
    }
  }
  function failed(e) {
    if (e instanceof AuthError) {
      if (es) { es.close(); es = null; }
      me.csrf = ''; me.auth = '';
      renderWho();
      setConn('unauthorized');
      if (AUTH_MODE === 'users') {
        $('login-form').hidden = false;
        if (!$('login-msg2').textContent) $('login-msg2').textContent = t('login.required');
      } else {
        $('login').hidden = false;
        $('login-msg').textContent = token ? t('token.refused') : t('token.required');
      }
    } else if (!es || es.readyState !== EventSource.OPEN) {
      setConn('offline');
    }
  }

  // ---- sound and browser notification (opt-in, per browser) -----------------

  function soundOn() {
    try { return localStorage.getItem(SOUND_KEY) === '1'; } catch (e) { return false; }
  }
  function beep() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      const ctx = new Ctx();
      for (const [i, f] of [880, 660, 880].entries()) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = f;
        g.gain.value = 0.2;
        o.connect(g).connect(ctx.destination);
        o.start(ctx.currentTime + i * 0.25);
        o.stop(ctx.currentTime + i * 0.25 + 0.2);
      }
      setTimeout(() => ctx.close(), 1200);
    } catch (e) { /* no audio device */ }
  }
  // A new critical: fired at, or escalated to, a critical level, or an
  // escalation of one nobody acknowledged.
  function alarm(x) {
    if (sev(x.severity) !== 'critical' || !['fired', 'escalated', 'unacknowledged'].includes(x.change) || x.silenced_by) return;
    state.alarms += 1;
    document.body.dataset.alarms = String(state.alarms);
    if (!soundOn()) return;
    beep();
    try {
      if ('Notification' in window && Notification.permission === 'granted') {
        new Notification(t('notify.title', { rule: x.rule_name || x.rule_id }), { body: messageOf(x), tag: x.alert_id });
      }
    } catch (e) { /* not allowed here */ }
  }

  // ---- live stream ---------------------------------------------------------

  // Show a change at once; the refetch that follows replaces the guess with
  // the gateway's own view (episode start, de-duplicated history).
  function onTransition(ev) {
    let x;
    try { x = JSON.parse(ev.data); } catch (e) { return; }
    state.events += 1;
    document.body.dataset.events = String(state.events);
    const key = (y) => [y.alert_id, y.change, y.event_time_ns, y.evaluated_at_ns].join('|');
    if (!state.recent.slice(0, 50).some((y) => key(y) === key(x))) state.recent.unshift(x);
    if (x.to === 'flapping') {
      state.firing.set(x.alert_id, { ...x, since_ns: x.event_time_ns, flapping: true });
    } else if (x.to === 'firing' && x.change !== 'unacknowledged') {
      const old = state.firing.get(x.alert_id);
      // "since" is when the current level was entered: a level change
      // restarts it, a re-notification does not.
      const since = old && x.change === 'renotified' ? old.since_ns : x.event_time_ns;
      state.firing.set(x.alert_id, { ...x, since_ns: since });
      state.fresh.add(x.alert_id);
      setTimeout(() => state.fresh.delete(x.alert_id), 3000);
    } else if (x.to === 'resolved' || x.to === 'ok') {
      state.firing.delete(x.alert_id);
      state.acks.delete(x.alert_id);
    }
    alarm(x);
    renderFiring();
    renderRecent();
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => { refreshAll(); }, 700);
  }
  function onAck(ev) {
    let a;
    try { a = JSON.parse(ev.data); } catch (e) { return; }
    state.acks.set(a.alert_id, a);
    if (state.openAck && state.openAck.id === a.alert_id) state.openAck = null;
    renderFiring();
    refreshAudit().catch(failed);
  }
  function onSilences(ev) {
    try { state.silences = JSON.parse(ev.data) || []; } catch (e) { return; }
    renderSilences();
    renderFiring();
    refreshAudit().catch(failed);
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
    es.addEventListener('ack', onAck);
    es.addEventListener('silences', onSilences);
    es.addEventListener('lagged', () => { refreshAll(); });
  }
  function schedule(f, ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(f, ms);
  }
  async function start() {
    if (await refreshAll()) {
      $('login').hidden = true;
      $('login-form').hidden = true;
      connect();
    } else if ($('conn').dataset.state !== 'unauthorized') {
      schedule(start, 5000);
    }
  }

  // ---- actions ---------------------------------------------------------------

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token-input').value.trim();
    save(token);
    $('token-input').value = '';
    start();
  });
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { user: $('user-input').value.trim(), password: $('password-input').value };
    $('password-input').value = '';
    const r = await send('POST', 'api/login', body);
    if (r.ok) {
      me.csrf = r.json.csrf || '';
      $('login-msg2').textContent = '';
      start();
    } else if (r.status === 429) {
      $('login-msg2').textContent = t('login.locked', { s: r.json.retry_after_s || '?' });
    } else if (r.status === 401) {
      $('login-msg2').textContent = t('login.wrong')
        + (r.json.retry_after_s ? ' ' + t('login.locked', { s: r.json.retry_after_s }) : '');
    } else {
      $('login-msg2').textContent = t('login.failed', { error: r.json.error || r.status });
    }
  });
  $('logout').addEventListener('click', async () => {
    await send('POST', 'api/logout');
    if (es) { es.close(); es = null; }
    me.csrf = ''; me.auth = ''; me.role = 'viewer';
    state.firing.clear(); state.recent = []; state.devices = []; state.audit = [];
    renderWho();
    renderAll();
    failed(new AuthError('logged out'));
  });
  // Acknowledge: a button opens a note field on the card; sending it asks
  // the gateway, whose `ack` event then updates every open console.
  $('firing').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.classList.contains('ack-btn')) {
      state.openAck = { id: b.dataset.alertId, note: '', msg: '' };
      renderFiring();
    } else if (b.classList.contains('ack-cancel')) {
      state.openAck = null;
      renderFiring();
    }
  });
  $('firing').addEventListener('input', (ev) => {
    if (state.openAck && ev.target.classList.contains('ack-note')) state.openAck.note = ev.target.value;
  });
  $('firing').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target.closest('.ack-form');
    if (!form || !state.openAck) return;
    const id = form.dataset.alertId;
    const r = await send('POST', 'api/alerts/' + encodeURIComponent(id) + '/ack', { note: state.openAck.note });
    if (r.ok) {
      state.acks.set(id, r.json);
      state.openAck = null;
    } else if (state.openAck) {
      state.openAck.msg = t('ack.failed', { error: r.json.error || r.status });
    }
    renderFiring();
  });
  $('silence-banner').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.silence-end');
    if (!b) return;
    const r = await send('DELETE', 'api/silences/' + encodeURIComponent(b.dataset.silenceId));
    if (r.ok) state.silences = state.silences.filter((s) => s.id !== b.dataset.silenceId);
    renderSilences();
    renderFiring();
  });
  $('silence-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { scope: $('s-scope').value, value: $('s-value').value.trim(), duration: $('s-duration').value, reason: $('s-reason').value.trim() };
    const r = await send('POST', 'api/silences', body);
    if (r.ok) {
      $('s-value').value = '';
      $('s-reason').value = '';
      $('silence-msg').textContent = '';
      if (!state.silences.some((s) => s.id === r.json.id)) state.silences.push(r.json);
      renderSilences();
      renderFiring();
    } else {
      $('silence-msg').textContent = t('silence.failed', { error: r.json.error || r.status });
    }
  });
  $('filters').addEventListener('change', readFilters);
  $('sound-toggle').checked = soundOn();
  $('sound-toggle').addEventListener('change', () => {
    const on = $('sound-toggle').checked;
    try { localStorage.setItem(SOUND_KEY, on ? '1' : '0'); } catch (e) { /* memory only */ }
    if (on) {
      beep();
      try { if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission(); } catch (e) { /* no */ }
    }
  });
  $('lang-select').addEventListener('change', () => {
    setLang($('lang-select').value);
    translate();
  });

  // Static texts, choices and everything rendered, in the current language.
  function translate() {
    applyI18n(document);
    document.title = t('app.title');
    $('lang-select').value = currentLang();
    $('s-scope').replaceChildren(...['device', 'site', 'rule'].map((s) => el('option', { value: s }, t('scope.' + s))));
    const dur = $('s-duration');
    const chosen = dur.value || '2h';
    dur.replaceChildren(...DURATIONS.map((d) => el('option', { value: d }, t('dur.' + d))));
    dur.value = chosen;
    filterOptions();
    setConn($('conn').dataset.state || 'connecting');
    renderWho();
    renderAll();
  }

  setInterval(tick, 1000);
  setInterval(() => { if (es) refreshDevices().catch(failed); }, DEVICES_EVERY_MS);
  setInterval(() => { if (es) refreshAlerts().catch(failed); }, ALERTS_EVERY_MS);
  setInterval(() => { if (es) refreshAudit().catch(failed); }, AUDIT_EVERY_MS);
  translate();
  tick();
  start();
})();
