// telegate console: messages in Vietnamese and English, and the time format.
//
// The contract every console script follows (other assets register their
// own keys the same way):
//   registerMessages(lang, {key: text, ...})  merge a catalogue ('vi', 'en')
//   t(key, vars)       the text in the current language, falling back to
//                      'en', then to the key; {name} replaced from vars
//   currentLang()      'vi' or 'en'
//   setLang(lang)      choose for this browser (kept in localStorage);
//                      fires 'telegate-lang' on document
//   fmtTime(ms)        dd/mm/yyyy HH:MM in ICT (Asia/Ho_Chi_Minh)
//   fmtTimeSec(ms)     dd/mm/yyyy HH:MM:SS in ICT
//   fmtClock(ms)       HH:MM:SS in ICT
//   applyI18n(root)    fill [data-i18n] text, [data-i18n-title] titles,
//                      [data-i18n-placeholder] placeholders
// The default language comes from the gateway (`[admin.console] language`
// written into <html data-default-lang>): 'vi', 'en', or 'auto' = the
// browser's language (vi… → vi, anything else → en).
'use strict';
const I18N_STORE_KEY = 'telegate-lang';
const I18N_MESSAGES = { en: {}, vi: {} };

function registerMessages(lang, obj) {
  if (!I18N_MESSAGES[lang]) I18N_MESSAGES[lang] = {};
  Object.assign(I18N_MESSAGES[lang], obj);
}

function currentLang() {
  let chosen = null;
  try { chosen = localStorage.getItem(I18N_STORE_KEY); } catch (e) { /* private mode */ }
  if (chosen === 'vi' || chosen === 'en') return chosen;
  const def = document.documentElement.dataset.defaultLang || 'auto';
  if (def === 'vi' || def === 'en') return def;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || '';
  return nav.toLowerCase().startsWith('vi') ? 'vi' : 'en';
}

function setLang(lang) {
  try { localStorage.setItem(I18N_STORE_KEY, lang); } catch (e) { /* memory only */ }
  document.documentElement.lang = lang;
  // Scripts that draw their own texts (trend.js, map.js) redraw on this.
  document.dispatchEvent(new Event('telegate-lang'));
}

function t(key, vars) {
  const lang = currentLang();
  let s = (I18N_MESSAGES[lang] && I18N_MESSAGES[lang][key]);
  if (s === undefined) s = I18N_MESSAGES.en[key];
  if (s === undefined) s = key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m));
  return s;
}

const I18N_TZ = 'Asia/Ho_Chi_Minh';
function i18nParts(ms, withSeconds) {
  const opts = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (withSeconds) opts.second = '2-digit';
  let f;
  try { f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: I18N_TZ }); } catch (e) { f = new Intl.DateTimeFormat('en-GB', opts); }
  const p = {};
  for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
  return p;
}
function fmtTime(ms) {
  const p = i18nParts(ms, false);
  return p.day + '/' + p.month + '/' + p.year + ' ' + p.hour + ':' + p.minute;
}
function fmtTimeSec(ms) {
  const p = i18nParts(ms, true);
  return p.day + '/' + p.month + '/' + p.year + ' ' + p.hour + ':' + p.minute + ':' + p.second;
}
function fmtClock(ms) {
  const p = i18nParts(ms, true);
  return p.hour + ':' + p.minute + ':' + p.second;
}

function applyI18n(root) {
  const r = root || document;
  for (const n of r.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of r.querySelectorAll('[data-i18n-title]')) n.title = t(n.dataset.i18nTitle);
  for (const n of r.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
  document.documentElement.lang = currentLang();
}

registerMessages('en', {
  'app.title': 'telegate · operator console',
  'app.sub': 'operator console',
  'conn.connecting': '○ connecting…',
  'conn.live': '● live',
  'conn.reconnecting': '◌ reconnecting…',
  'conn.offline': '✕ gateway unreachable',
  'conn.unauthorized': '✕ token required',
  'conn.login': '✕ login required',
  'silent.one': '○ {n} device silent',
  'silent.many': '○ {n} devices silent',
  'token.label': 'Admin token',
  'token.connect': 'Connect',
  'token.refused': 'That token was refused.',
  'token.required': 'This gateway requires its admin token.',
  'login.user': 'User name',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.required': 'Log in to use the console.',
  'login.wrong': 'Wrong user name or password.',
  'login.locked': 'Too many failed logins: try again in {s} s.',
  'login.failed': 'Login failed: {error}',
  'logout': 'Log out',
  'who': '{user} · {role}',
  'role.viewer': 'viewer',
  'role.operator': 'operator',
  'role.admin': 'admin',
  'lang.label': 'Language',
  'sound.label': 'Sound and notification on a new critical alert',
  'sound.on': '🔔 on',
  'sound.off': '🔕 off',
  'notify.title': '▲ Critical: {rule}',
  'alerts.title': 'Firing alerts',
  'health.title': 'Device health',
  'history.title': 'Recent transitions',
  'audit.title': 'Audit log',
  'silences.title': 'Silences',
  'loading': 'Loading…',
  'alerts.none': 'No alert is firing.',
  'alerts.nomatch': 'No firing alert matches the filters.',
  'devices.none': 'No device has reported yet.',
  'recent.none': 'No transition yet.',
  'recent.nomatch': 'No transition matches the filters.',
  'audit.none': 'No action recorded yet.',
  'filter.severity': 'Severity',
  'filter.state': 'State',
  'filter.site': 'Site',
  'filter.ack': 'Acknowledged',
  'filter.all': 'all',
  'filter.unacked': 'not acknowledged',
  'filter.acked': 'acknowledged',
  'filter.silenced': 'silenced',
  'filter.showInfo': 'show info',
  'sev.critical': '▲ Critical',
  'sev.warning': '◆ Warning',
  'sev.info': '● Info',
  'sevname.critical': 'critical',
  'sevname.warning': 'warning',
  'sevname.info': 'info',
  'state.firing': 'firing',
  'state.resolved': 'resolved',
  'state.pending': 'pending',
  'state.ok': 'ok',
  'state.flapping': 'flapping',
  'change.pending': 'pending',
  'change.cancelled': 'cancelled',
  'change.fired': 'fired',
  'change.escalated': 'escalated',
  'change.deescalated': 'deescalated',
  'change.renotified': 'renotified',
  'change.resolved': 'resolved',
  'change.flapping': 'flapping',
  'change.settled': 'settled',
  'change.unacknowledged': 'unacknowledged',
  'msg.unacked': 'not acknowledged for {span}: {message}',
  'status.alerting': '▲ alerting',
  'status.silent': '○ silent',
  'status.ok': '✓ ok',
  'card.silentFlag': '○ SILENT — no reading for {span}: the value below may be stale',
  'card.flapping': 'flapping',
  'card.lastReading': 'last reading',
  'card.since': 'since',
  'card.episode': 'episode from',
  'card.silenced': '🔕 silenced ({id}): not notified',
  'span.s': '{n} s',
  'span.min': '{n} min',
  'span.h': '{h} h {m} min',
  'span.d': '{d} d {h} h',
  'ago': '{span} ago',
  'never': 'never',
  'late': 'late',
  'late.title': 'backfilled: received {when}',
  'silencedMark': 'not notified',
  'collapsed.one': '{n} info transition collapsed (tick "show info")',
  'collapsed.many': '{n} info transitions collapsed (tick "show info")',
  'th.eventTime': 'Event time',
  'th.change': 'Change',
  'th.severity': 'Severity',
  'th.rule': 'Rule',
  'th.series': 'Series',
  'th.value': 'Value',
  'th.message': 'Message',
  'th.device': 'Device',
  'th.status': 'Status',
  'th.lastSeen': 'Last seen',
  'th.lastValues': 'Last values',
  'th.battery': 'Battery',
  'th.signal': 'Signal (RSRP)',
  'th.sensors': 'Sensors',
  'th.time': 'Time',
  'th.who': 'Who',
  'th.action': 'Action',
  'th.target': 'Target',
  'th.note': 'Note',
  'th.addr': 'Address',
  'site.devices.one': '{n} device',
  'site.devices.many': '{n} devices',
  'site.alerting': '{n} alerting',
  'site.silent': '{n} silent',
  'site.none': '(no site)',
  'device.title': 'received {seen}, newest sample {sample}',
  'signal.excellent': 'excellent',
  'signal.good': 'good',
  'signal.fair': 'fair',
  'signal.poor': 'poor',
  'footer.times': 'Times are Asia/Ho_Chi_Minh (ICT, UTC+7), dd/mm/yyyy · alerts live over server-sent events, devices refreshed every 10 s ·',
  'updated': 'devices updated {t}',
  'ack.button': 'Acknowledge',
  'ack.note': 'Note: what you are doing',
  'ack.send': 'Send',
  'cancel': 'Cancel',
  'ack.by': '✔ Acknowledged by {by} at {when}',
  'ack.failed': 'Could not acknowledge: {error}',
  'silence.button': 'Silence…',
  'silence.banner': '🔕 {scope} {value} silenced until {until} by {by}: {reason}',
  'silence.end': 'End silence',
  'silence.scope': 'Silence',
  'silence.value': 'Name',
  'silence.duration': 'for',
  'silence.reason': 'Reason (maintenance…)',
  'silence.submit': 'Silence',
  'silence.failed': 'Could not silence: {error}',
  'scope.rule': 'rule',
  'scope.device': 'device',
  'scope.site': 'site',
  'dur.30m': '30 min',
  'dur.1h': '1 hour',
  'dur.2h': '2 hours',
  'dur.4h': '4 hours',
  'dur.8h': '8 hours',
  'dur.24h': '24 hours',
  'dur.3d': '3 days',
  'action.login': 'login',
  'action.login_failed': 'failed login',
  'action.login_locked': 'login refused (locked)',
  'action.logout': 'logout',
  'action.ack': 'acknowledged',
  'action.silence': 'silenced',
  'action.unsilence': 'silence ended',
  'action.silence_expired': 'silence expired',
  'action.decommission': 'device decommissioned',
  'action.user_add': 'user added',
  'action.user_passwd': 'user changed',
  'action.user_remove': 'user removed',
});

registerMessages('vi', {
  'app.title': 'telegate · bảng điều khiển trực ban',
  'app.sub': 'bảng điều khiển trực ban',
  'conn.connecting': '○ đang kết nối…',
  'conn.live': '● trực tuyến',
  'conn.reconnecting': '◌ đang kết nối lại…',
  'conn.offline': '✕ mất kết nối với cổng',
  'conn.unauthorized': '✕ cần mã truy cập',
  'conn.login': '✕ cần đăng nhập',
  'silent.one': '○ {n} thiết bị mất tín hiệu',
  'silent.many': '○ {n} thiết bị mất tín hiệu',
  'token.label': 'Mã truy cập quản trị',
  'token.connect': 'Kết nối',
  'token.refused': 'Mã truy cập bị từ chối.',
  'token.required': 'Cổng này yêu cầu mã truy cập quản trị.',
  'login.user': 'Tên đăng nhập',
  'login.password': 'Mật khẩu',
  'login.submit': 'Đăng nhập',
  'login.required': 'Đăng nhập để sử dụng bảng điều khiển.',
  'login.wrong': 'Sai tên đăng nhập hoặc mật khẩu.',
  'login.locked': 'Đăng nhập sai quá nhiều lần: thử lại sau {s} giây.',
  'login.failed': 'Đăng nhập không thành công: {error}',
  'logout': 'Đăng xuất',
  'who': '{user} · {role}',
  'role.viewer': 'chỉ xem',
  'role.operator': 'trực ban',
  'role.admin': 'quản trị',
  'lang.label': 'Ngôn ngữ',
  'sound.label': 'Âm báo và thông báo khi có cảnh báo nguy cấp mới',
  'sound.on': '🔔 bật',
  'sound.off': '🔕 tắt',
  'notify.title': '▲ Nguy cấp: {rule}',
  'alerts.title': 'Cảnh báo đang phát',
  'health.title': 'Tình trạng thiết bị',
  'history.title': 'Diễn biến gần đây',
  'audit.title': 'Nhật ký thao tác',
  'silences.title': 'Tạm ngưng thông báo',
  'loading': 'Đang tải…',
  'alerts.none': 'Không có cảnh báo nào đang phát.',
  'alerts.nomatch': 'Không có cảnh báo nào khớp bộ lọc.',
  'devices.none': 'Chưa có thiết bị nào gửi số liệu.',
  'recent.none': 'Chưa có diễn biến nào.',
  'recent.nomatch': 'Không có diễn biến nào khớp bộ lọc.',
  'audit.none': 'Chưa có thao tác nào được ghi.',
  'filter.severity': 'Mức độ',
  'filter.state': 'Trạng thái',
  'filter.site': 'Địa điểm',
  'filter.ack': 'Xác nhận',
  'filter.all': 'tất cả',
  'filter.unacked': 'chưa xác nhận',
  'filter.acked': 'đã xác nhận',
  'filter.silenced': 'đang tạm ngưng',
  'filter.showInfo': 'hiện mức thông tin',
  'sev.critical': '▲ Nguy cấp',
  'sev.warning': '◆ Cảnh báo',
  'sev.info': '● Thông tin',
  'sevname.critical': 'nguy cấp',
  'sevname.warning': 'cảnh báo',
  'sevname.info': 'thông tin',
  'state.firing': 'đang phát',
  'state.resolved': 'đã hết',
  'state.pending': 'chờ xác định',
  'state.ok': 'bình thường',
  'state.flapping': 'dao động',
  'change.pending': 'chờ xác định',
  'change.cancelled': 'hủy bỏ',
  'change.fired': 'phát cảnh báo',
  'change.escalated': 'tăng cấp',
  'change.deescalated': 'giảm cấp',
  'change.renotified': 'nhắc lại',
  'change.resolved': 'hết cảnh báo',
  'change.flapping': 'dao động',
  'change.settled': 'ổn định lại',
  'change.unacknowledged': 'chưa ai xác nhận',
  'msg.unacked': 'chưa ai xác nhận sau {span}: {message}',
  'status.alerting': '▲ đang báo động',
  'status.silent': '○ mất tín hiệu',
  'status.ok': '✓ bình thường',
  'card.silentFlag': '○ MẤT TÍN HIỆU — không có số liệu trong {span}: giá trị dưới đây có thể đã cũ',
  'card.flapping': 'dao động',
  'card.lastReading': 'số liệu cuối',
  'card.since': 'từ',
  'card.episode': 'đợt bắt đầu',
  'card.silenced': '🔕 tạm ngưng thông báo ({id})',
  'span.s': '{n} giây',
  'span.min': '{n} phút',
  'span.h': '{h} giờ {m} phút',
  'span.d': '{d} ngày {h} giờ',
  'ago': '{span} trước',
  'never': 'chưa có',
  'late': 'gửi bù',
  'late.title': 'số liệu gửi bù: nhận lúc {when}',
  'silencedMark': 'không gửi thông báo',
  'collapsed.one': 'Đã thu gọn {n} diễn biến mức thông tin (chọn "hiện mức thông tin")',
  'collapsed.many': 'Đã thu gọn {n} diễn biến mức thông tin (chọn "hiện mức thông tin")',
  'th.eventTime': 'Thời điểm',
  'th.change': 'Diễn biến',
  'th.severity': 'Mức độ',
  'th.rule': 'Quy tắc',
  'th.series': 'Chuỗi số liệu',
  'th.value': 'Giá trị',
  'th.message': 'Nội dung',
  'th.device': 'Thiết bị',
  'th.status': 'Trạng thái',
  'th.lastSeen': 'Lần cuối',
  'th.lastValues': 'Giá trị mới nhất',
  'th.battery': 'Pin',
  'th.signal': 'Sóng (RSRP)',
  'th.sensors': 'Cảm biến',
  'th.time': 'Thời gian',
  'th.who': 'Người thực hiện',
  'th.action': 'Thao tác',
  'th.target': 'Đối tượng',
  'th.note': 'Ghi chú',
  'th.addr': 'Địa chỉ',
  'site.devices.one': '{n} thiết bị',
  'site.devices.many': '{n} thiết bị',
  'site.alerting': '{n} đang báo động',
  'site.silent': '{n} mất tín hiệu',
  'site.none': '(chưa rõ địa điểm)',
  'device.title': 'nhận lúc {seen}, mẫu mới nhất {sample}',
  'signal.excellent': 'rất tốt',
  'signal.good': 'tốt',
  'signal.fair': 'trung bình',
  'signal.poor': 'yếu',
  'footer.times': 'Giờ Việt Nam (ICT, UTC+7), ngày/tháng/năm · cảnh báo cập nhật trực tiếp, thiết bị làm mới mỗi 10 giây ·',
  'updated': 'thiết bị cập nhật lúc {t}',
  'ack.button': 'Xác nhận',
  'ack.note': 'Ghi chú: anh/chị đang xử lý thế nào',
  'ack.send': 'Gửi',
  'cancel': 'Hủy',
  'ack.by': '✔ {by} đã xác nhận lúc {when}',
  'ack.failed': 'Không xác nhận được: {error}',
  'silence.button': 'Tạm ngưng thông báo…',
  'silence.banner': '🔕 Tạm ngưng thông báo {scope} {value} đến {until} ({by}): {reason}',
  'silence.end': 'Kết thúc tạm ngưng',
  'silence.scope': 'Tạm ngưng',
  'silence.value': 'Tên',
  'silence.duration': 'trong',
  'silence.reason': 'Lý do (bảo trì…)',
  'silence.submit': 'Tạm ngưng',
  'silence.failed': 'Không tạm ngưng được: {error}',
  'scope.rule': 'quy tắc',
  'scope.device': 'thiết bị',
  'scope.site': 'địa điểm',
  'dur.30m': '30 phút',
  'dur.1h': '1 giờ',
  'dur.2h': '2 giờ',
  'dur.4h': '4 giờ',
  'dur.8h': '8 giờ',
  'dur.24h': '24 giờ',
  'dur.3d': '3 ngày',
  'action.login': 'đăng nhập',
  'action.login_failed': 'đăng nhập sai',
  'action.login_locked': 'từ chối đăng nhập (đang khóa)',
  'action.logout': 'đăng xuất',
  'action.ack': 'xác nhận cảnh báo',
  'action.silence': 'tạm ngưng thông báo',
  'action.unsilence': 'kết thúc tạm ngưng',
  'action.silence_expired': 'hết hạn tạm ngưng',
  'action.decommission': 'ngừng sử dụng thiết bị',
  'action.user_add': 'thêm người dùng',
  'action.user_passwd': 'sửa người dùng',
  'action.user_remove': 'xóa người dùng',
});
