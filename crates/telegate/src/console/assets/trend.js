// telegate operator console: the trend chart. Clicking an alert card or a
// device row (or a station on the map, map.js) opens the last hours of that
// series, read by the gateway from its database (GET api/series), drawn as
// inline SVG with the rule's levels (BĐ I/II/III) as lines. No library, no
// CDN: the page works at a border gate without internet.
'use strict';

// Strings through the console's i18n.js (registerMessages, t,
// currentLang), which index.html loads before this file and map.js.
registerMessages('vi', {
  'trend.title': 'Diễn biến {device} · {field}',
  'trend.hint': 'Bấm vào một cảnh báo, một thiết bị hoặc một trạm trên bản đồ để xem diễn biến.',
  'trend.range.6h': '6 giờ',
  'trend.range.24h': '24 giờ',
  'trend.range.7d': '7 ngày',
  'trend.range': 'Khoảng thời gian',
  'trend.close': 'Đóng',
  'trend.loading': 'Đang tải…',
  'trend.empty': 'Không có số liệu trong khoảng này.',
  'trend.note': '{points} điểm từ {samples} mẫu · {from} → {to} (giờ Việt Nam, ICT)',
  'trend.downsampled': 'đã rút gọn: mỗi khoảng giữ giá trị thấp nhất và cao nhất',
  'trend.truncated': 'chỉ đọc {samples} mẫu mới nhất',
  'trend.levels': 'Mức cảnh báo: {levels}',
  'trend.no_levels': 'Không có mức cảnh báo nào cho chuỗi số liệu này.',
  'trend.error': 'Không đọc được số liệu: {error}',
  'trend.chart': 'Biểu đồ {field} của {device}',
});
registerMessages('en', {
  'trend.title': 'Trend of {device} · {field}',
  'trend.hint': 'Click an alert, a device or a station on the map to see its trend.',
  'trend.range.6h': '6 h',
  'trend.range.24h': '24 h',
  'trend.range.7d': '7 days',
  'trend.range': 'Range',
  'trend.close': 'Close',
  'trend.loading': 'Loading…',
  'trend.empty': 'No data in this range.',
  'trend.note': '{points} points from {samples} samples · {from} → {to} (Vietnam time, ICT)',
  'trend.downsampled': 'reduced: each interval keeps its lowest and highest value',
  'trend.truncated': 'only the newest {samples} samples read',
  'trend.levels': 'Alert levels: {levels}',
  'trend.no_levels': 'No alert level watches this series.',
  'trend.error': 'Cannot read the series: {error}',
  'trend.chart': 'Chart of {field} of {device}',
});

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const RANGES = ['6h', '24h', '7d'];
  const W = 800; const H = 300;
  const M = { l: 60, r: 96, t: 14, b: 30 };
  const $ = (id) => document.getElementById(id);
  const current = { device: '', rule: '', field: '', measurement: '', range: '24h', seq: 0 };

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : String(c));
    return n;
  }
  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : String(c));
    return n;
  }
  const lang = () => currentLang();
  // Numbers as operators write them: a decimal comma in Vietnamese.
  function num(x) {
    const s = String(Number(x.toFixed(2)));
    return (lang() === 'vi' ? s.replace('.', ',') : s).replace('-', '−');
  }
  function formatter(opts) {
    try { return new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: 'Asia/Ho_Chi_Minh', hour12: false }); } catch (e) {
      return new Intl.DateTimeFormat('en-GB', { ...opts, hour12: false });
    }
  }
  const full = formatter({ day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
  const dayHour = formatter({ day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
  const hour = formatter({ hour: '2-digit', minute: '2-digit' });
  const when = (ms) => full.format(new Date(ms)).replace(',', '');

  function token() { try { return sessionStorage.getItem('telegate-admin-token') || ''; } catch (e) { return ''; } }

  function panel() {
    let p = $('trend');
    if (!p) return null;
    if (!p.dataset.built) {
      p.dataset.built = '1';
      const buttons = RANGES.map((r) => el('button', { type: 'button', class: 'trend-range', 'data-range': r }, t('trend.range.' + r)));
      p.replaceChildren(
        el('h2', { id: 'trend-h' }, t('trend.hint')),
        el('div', { class: 'trend-tools' },
          el('span', { class: 'muted' }, t('trend.range') + ':'), buttons,
          el('button', { type: 'button', id: 'trend-close', class: 'trend-close' }, t('trend.close'))),
        el('div', { id: 'trend-chart', class: 'trend-chart' }),
        el('p', { id: 'trend-note', class: 'muted trend-note' }),
        el('p', { id: 'trend-levels', class: 'trend-levels' }));
      for (const b of buttons) b.addEventListener('click', () => { current.range = b.dataset.range; load(); });
      $('trend-close').addEventListener('click', () => { p.hidden = true; p.dataset.device = ''; });
    }
    return p;
  }

  // Open (or re-aim) the chart: {device, rule?, field?, measurement?, range?}.
  function openTrend(what) {
    if (!what || !what.device) return;
    current.device = what.device;
    current.rule = what.rule || '';
    current.field = what.field || '';
    current.measurement = what.measurement || '';
    if (what.range) current.range = what.range;
    const p = panel();
    if (!p) return;
    p.hidden = false;
    load();
    if (p.scrollIntoView) p.scrollIntoView({ block: 'nearest' });
  }
  window.openTrend = openTrend;

  async function load() {
    const p = panel();
    const seq = ++current.seq;
    p.dataset.device = current.device;
    p.dataset.range = current.range;
    p.dataset.state = 'loading';
    for (const b of p.querySelectorAll('.trend-range')) b.setAttribute('aria-pressed', b.dataset.range === current.range ? 'true' : 'false');
    $('trend-note').textContent = t('trend.loading');
    const q = new URLSearchParams({ device: current.device, range: current.range });
    if (current.rule) q.set('rule', current.rule);
    if (current.field) q.set('field', current.field);
    if (current.measurement) q.set('measurement', current.measurement);
    let body;
    try {
      const tok = token();
      const r = await fetch('api/series?' + q, { headers: tok ? { Authorization: 'Bearer ' + tok } : {}, cache: 'no-store', credentials: 'same-origin' });
      body = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
      if (!r.ok) throw new Error(body.error || 'HTTP ' + r.status);
    } catch (e) {
      if (seq !== current.seq) return;
      p.dataset.state = 'error';
      $('trend-h').textContent = t('trend.title', { device: current.device, field: current.field || '…' });
      $('trend-chart').replaceChildren();
      $('trend-note').textContent = t('trend.error', { error: e.message });
      $('trend-levels').textContent = '';
      return;
    }
    if (seq !== current.seq) return;
    draw(body);
    p.dataset.state = 'ready';
  }

  function draw(b) {
    $('trend-h').textContent = t('trend.title', { device: b.device_id, field: b.field });
    const pts = b.points || [];
    const levels = b.levels || [];
    const x0 = b.from_ms; const x1 = Math.max(b.to_ms, x0 + 1);
    const values = pts.map((p) => p[1]).concat(levels.map((l) => l.value));
    let y0 = values.length ? Math.min(...values) : 0;
    let y1 = values.length ? Math.max(...values) : 1;
    const pad = (y1 - y0) * 0.08 || Math.max(Math.abs(y1) * 0.01, 0.5);
    y0 -= pad; y1 += pad;
    const X = (ms) => M.l + ((ms - x0) / (x1 - x0)) * (W - M.l - M.r);
    const Y = (v) => H - M.b - ((v - y0) / (y1 - y0)) * (H - M.t - M.b);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'trend-svg', role: 'img', 'aria-label': t('trend.chart', { field: b.field, device: b.device_id }),
      'data-points': pts.length, 'data-levels': levels.length, 'data-device': b.device_id, 'data-field': b.field, 'data-range': b.range });
    // Grid and axes.
    const grid = svg('g', { class: 'trend-grid' });
    for (let i = 0; i <= 4; i++) {
      const v = y0 + ((y1 - y0) * i) / 4;
      grid.append(svg('line', { x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v) }),
        svg('text', { x: M.l - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'trend-tick' }, num(v)));
    }
    const long = x1 - x0 > 36 * 3600e3;
    for (let i = 0; i <= 6; i++) {
      const ms = x0 + ((x1 - x0) * i) / 6;
      grid.append(svg('line', { x1: X(ms), x2: X(ms), y1: M.t, y2: H - M.b, class: 'trend-vgrid' }),
        svg('text', { x: X(ms), y: H - M.b + 18, 'text-anchor': 'middle', class: 'trend-tick' }, (long ? dayHour : hour).format(new Date(ms)).replace(',', '')));
    }
    chart.append(grid);
    // Levels: one line each, named at the right edge.
    const lv = svg('g', { class: 'trend-levels' });
    for (const l of levels) {
      const y = Y(l.value);
      lv.append(svg('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: 'level level-' + l.severity, 'data-level': l.name, 'data-value': l.value, 'data-rule': l.rule_id },
        svg('title', {}, `${l.name} · ${num(l.value)} (${l.rule_name})`)),
      svg('text', { x: W - M.r + 4, y: y + 4, class: 'level-label level-' + l.severity }, `${l.name} ${num(l.value)}`));
    }
    chart.append(lv);
    // The series: a line, and a dot per point (few enough: max_points).
    if (pts.length) {
      chart.append(svg('polyline', { class: 'trend-line', points: pts.map((p) => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join(' ') }));
      const dots = svg('g', { class: 'trend-points' });
      for (const p of pts) {
        dots.append(svg('circle', { cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: pts.length > 200 ? 1.2 : 2.2, 'data-t': p[0], 'data-v': p[1] },
          svg('title', {}, `${when(p[0])} · ${num(p[1])}`)));
      }
      chart.append(dots);
    } else {
      chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'trend-empty' }, t('trend.empty')));
    }
    $('trend-chart').replaceChildren(chart);
    const extra = [b.downsampled ? t('trend.downsampled') : null, b.truncated ? t('trend.truncated', { samples: b.samples }) : null].filter(Boolean);
    $('trend-note').textContent = t('trend.note', { points: pts.length, samples: b.samples, from: when(x0), to: when(b.to_ms) })
      + (extra.length ? ' · ' + extra.join(' · ') : '');
    $('trend-levels').textContent = levels.length
      ? t('trend.levels', { levels: levels.map((l) => `${l.name} ${num(l.value)}`).join(' · ') })
      : t('trend.no_levels');
  }

  // Another language chosen in the header (i18n.js's setLang): the panel's
  // texts again, and the open chart redrawn.
  document.addEventListener('telegate-lang', () => {
    const p = $('trend');
    if (!p || !p.dataset.built) return;
    delete p.dataset.built;
    const open = !p.hidden && p.dataset.device;
    panel();
    if (open) load();
  });

  // Clicks on the console's alert cards and device rows open their chart
  // (not those on a card's own controls: acknowledge, its note, …).

  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    if (target.closest('button, input, select, textarea, form, a')) return;
    const card = target.closest('#firing article.alert[data-device]');
    if (card && card.dataset.device) return openTrend({ device: card.dataset.device, rule: card.dataset.rule || '' });
    const row = target.closest('#devices tr[data-device]');
    if (row) openTrend({ device: row.dataset.device });
  });
  document.addEventListener('DOMContentLoaded', () => { const p = panel(); if (p) p.hidden = true; });
})();
