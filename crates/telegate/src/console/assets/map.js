// telegate operator console: the station overview. A schematic map (inline
// SVG, no map tiles: nothing is fetched from outside) of the sites and
// their stations at the coordinates of the gateway's [map] config, each
// marker coloured by its worst state (GET api/stations). Clicking a
// station opens its trend (trend.js).
'use strict';

// registerMessages and t: the console's i18n.js, loaded before this file.
registerMessages('vi', {
  'map.title': 'Bản đồ trạm',
  'map.state.critical': 'Khẩn cấp',
  'map.state.warning': 'Cảnh báo',
  'map.state.silent': 'Mất tín hiệu',
  'map.state.info': 'Thông tin',
  'map.state.ok': 'Bình thường',
  'map.state.unknown': 'Chưa có số liệu',
  'map.station': '{name} ({site}): {state}',
  'map.firing': '{n} cảnh báo đang bật',
  'map.unplaced': 'Chưa có tọa độ: {list}',
  'map.none': 'Chưa có tọa độ trạm nào: khai báo trong bảng [map] của tệp cấu hình.',
  'map.hint': 'Sơ đồ, không theo tỉ lệ bản đồ nền. Bấm vào một trạm để xem diễn biến.',
  'map.loading': 'Đang tải…',
});
registerMessages('en', {
  'map.title': 'Station map',
  'map.state.critical': 'Critical',
  'map.state.warning': 'Warning',
  'map.state.silent': 'Silent',
  'map.state.info': 'Info',
  'map.state.ok': 'OK',
  'map.state.unknown': 'Never reported',
  'map.station': '{name} ({site}): {state}',
  'map.firing': '{n} alerts firing',
  'map.unplaced': 'No coordinates: {list}',
  'map.none': 'No station has coordinates yet: add [map.sites] and [map.devices] to the config file.',
  'map.hint': 'Schematic, no base map. Click a station to see its trend.',
  'map.loading': 'Loading…',
});

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 640; const H = 400; const PAD = 64;
  const STATES = ['critical', 'warning', 'silent', 'info', 'ok', 'unknown'];
  const EVERY_MS = 5000;
  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : String(c));
    return n;
  }
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : String(c));
    return n;
  }
  function token() { try { return sessionStorage.getItem('telegate-admin-token') || ''; } catch (e) { return ''; } }

  // Equirectangular, longitude shrunk by cos(latitude), fitted to the box.
  function projection(points) {
    let [la0, la1, lo0, lo1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of points) {
      la0 = Math.min(la0, p.lat); la1 = Math.max(la1, p.lat);
      lo0 = Math.min(lo0, p.lon); lo1 = Math.max(lo1, p.lon);
    }
    const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
    const spanX = Math.max((lo1 - lo0) * k, 0.02); const spanY = Math.max(la1 - la0, 0.02);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const cx = (lo0 + lo1) / 2; const cy = (la0 + la1) / 2;
    return (lat, lon) => [W / 2 + (lon - cx) * k * scale, H / 2 - (lat - cy) * scale];
  }

  function render(b) {
    const box = $('map');
    if (!box) return;
    const placed = (b.stations || []).filter((s) => typeof s.lat === 'number' && typeof s.lon === 'number');
    const sites = (b.sites || []).filter((s) => typeof s.lat === 'number' && typeof s.lon === 'number');
    const unplaced = (b.stations || []).filter((s) => s.placed === 'none').map((s) => s.device_id);
    if (!placed.length && !sites.length) {
      box.replaceChildren(el('p', { class: 'empty' }, t('map.none')));
      return;
    }
    const at = projection([...placed, ...sites]);
    const map = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'map-svg', role: 'group', 'aria-label': t('map.title'), 'data-stations': placed.length });
    map.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'map-bg' }));
    for (const s of sites) {
      const [x, y] = at(s.lat, s.lon);
      map.append(svg('g', { class: 'site state-' + s.state, 'data-site': s.id, 'data-state': s.state },
        svg('circle', { cx: x, cy: y, r: 34, class: 'site-ring' }),
        svg('text', { x, y: y - 40, 'text-anchor': 'middle', class: 'site-name' }, s.name)));
    }
    // Stations drawn at their site's point fan out around it.
    const fan = new Map();
    for (const s of placed) {
      let [x, y] = at(s.lat, s.lon);
      if (s.placed === 'site') {
        const i = fan.get(s.site) || 0;
        fan.set(s.site, i + 1);
        const a = (i * 2 * Math.PI) / 6 - Math.PI / 2;
        x += 20 * Math.cos(a) * (1 + Math.floor(i / 6) * 0.6); y += 20 * Math.sin(a) * (1 + Math.floor(i / 6) * 0.6);
      }
      const state = STATES.includes(s.state) ? s.state : 'unknown';
      const label = t('map.station', { name: s.name, site: s.site || '—', state: t('map.state.' + state) })
        + (s.firing ? ' · ' + t('map.firing', { n: s.firing }) : '');
      const g = svg('g', { class: 'marker state-' + state, 'data-device': s.device_id, 'data-state': state, tabindex: 0, role: 'button', 'aria-label': label },
        svg('title', {}, label),
        svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 9 }),
        svg('text', { x: (x + 12).toFixed(1), y: (y + 4).toFixed(1), class: 'marker-label' }, s.device_id));
      const open = () => { if (window.openTrend) window.openTrend({ device: s.device_id }); };
      g.addEventListener('click', open);
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
      map.append(g);
    }
    const legend = el('ul', { class: 'map-legend' }, STATES.map((s) => el('li', { class: 'state-' + s }, el('span', { class: 'swatch' }), t('map.state.' + s))));
    box.replaceChildren(map, legend, el('p', { class: 'muted' }, t('map.hint')),
      unplaced.length ? el('p', { class: 'muted map-unplaced' }, t('map.unplaced', { list: unplaced.join(', ') })) : '');
  }

  let timer = null;
  let last = null;
  async function refresh() {
    clearTimeout(timer);
    try {
      const tok = token();
      const r = await fetch('api/stations', { headers: tok ? { Authorization: 'Bearer ' + tok } : {}, cache: 'no-store', credentials: 'same-origin' });
      if (r.ok) { last = await r.json(); render(last); } else if (r.status === 401 && last) {
        // Logged out (or the session ended): no stations left on screen.
        last = null;
        const box = $('map');
        if (box) box.replaceChildren(el('p', { class: 'empty' }, t('map.loading')));
      }
    } catch (e) { /* the console's own indicator says the gateway is unreachable */ }
    timer = setTimeout(refresh, EVERY_MS);
  }

  function start() {
    const sec = $('stations');
    if (!sec) return;
    sec.replaceChildren(el('h2', { id: 'stations-h' }, t('map.title')), el('div', { id: 'map', class: 'map' }, el('p', { class: 'empty' }, t('map.loading'))));
    refresh();
  }
  // Another language chosen in the header: the same stations, new words.
  document.addEventListener('telegate-lang', () => {
    const h = $('stations-h');
    if (h) h.textContent = t('map.title');
    if (last) render(last);
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
