//! What a transition says to a person, in Vietnamese or English: the
//! subject and body of an alert email and the `{text}` of a webhook body
//! template (chat bots). The JSON payload keeps the rule's own `message`;
//! this is the same event told in the operator's language, with the terms
//! the field uses (BĐ I/II/III, cấp độ rủi ro thiên tai) and times as
//! dd/mm/yyyy HH:MM ICT (UTC+7, no daylight saving), whatever the server's
//! time zone.
//!
//! The rule's name, level names and `message` come from the rules file and
//! are shown as written (a level named `BĐ III` reads the same in both
//! languages); only the few level names the example rules use in English
//! (`risk level N`, `offline`…) are translated, see [`level_name`].

use serde::{Deserialize, Serialize};
use telegate_alert::{Change, Severity, Transition};

/// A language of notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Vietnamese: the default, the operators' language.
    #[default]
    Vi,
    En,
}

/// One transition told to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// One line: severity, change, level, rule, device.
    pub subject: String,
    /// Several lines: the subject's facts spelled out, the rule's own
    /// message, the alert id.
    pub body: String,
}

/// ICT is UTC+7 all year.
const ICT_OFFSET_S: i64 = 7 * 3600;

/// `dd/mm/yyyy HH:MM ICT` of nanoseconds since the epoch.
pub fn ict_time(ns: i64) -> String {
    let s = ns.div_euclid(1_000_000_000) + ICT_OFFSET_S;
    let (y, m, d) = telegate_model::civil_from_days(s.div_euclid(86_400));
    let sod = s.rem_euclid(86_400);
    format!("{d:02}/{m:02}/{y:04} {:02}:{:02} ICT", sod / 3600, sod / 60 % 60)
}

/// A number as people in `lang` write it: at most two decimals, trailing
/// zeros dropped, and a decimal comma in Vietnamese (290,12).
fn number(x: f64, lang: Lang) -> String {
    let mut s = format!("{:.2}", (x * 100.0).round() / 100.0);
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if s == "-0" {
        s = "0".into();
    }
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A silence in seconds, e.g. `2 h 5 min` / `2 giờ 5 phút`.
fn duration(seconds: f64, lang: Lang) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let (hw, mw, sw) = match lang {
        Lang::Vi => ("giờ", "phút", "giây"),
        Lang::En => ("h", "min", "s"),
    };
    match (h, m) {
        (0, 0) => format!("{sec} {sw}"),
        (0, m) => format!("{m} {mw}"),
        (h, 0) => format!("{h} {hw}"),
        (h, m) => format!("{h} {hw} {m} {mw}"),
    }
}

fn severity(s: Severity, lang: Lang) -> &'static str {
    match (lang, s) {
        (Lang::Vi, Severity::Critical) => "KHẨN CẤP",
        (Lang::Vi, Severity::Warning) => "CẢNH BÁO",
        (Lang::Vi, Severity::Info) => "THÔNG TIN",
        (Lang::En, Severity::Critical) => "CRITICAL",
        (Lang::En, Severity::Warning) => "WARNING",
        (Lang::En, Severity::Info) => "INFO",
    }
}

fn change(c: Change, lang: Lang) -> &'static str {
    match (lang, c) {
        (Lang::Vi, Change::Pending) => "Chờ xác nhận",
        (Lang::Vi, Change::Cancelled) => "Đã hủy",
        (Lang::Vi, Change::Fired) => "Báo động",
        (Lang::Vi, Change::Escalated) => "Tăng cấp",
        (Lang::Vi, Change::Deescalated) => "Giảm cấp",
        (Lang::Vi, Change::Renotified) => "Nhắc lại",
        (Lang::Vi, Change::Resolved) => "Đã hết",
        (Lang::Vi, Change::Flapping) => "Dao động liên tục",
        (Lang::Vi, Change::Settled) => "Đã ổn định",
        (Lang::Vi, Change::Unacknowledged) => "Chưa ai xác nhận",
        (Lang::En, Change::Pending) => "Pending",
        (Lang::En, Change::Cancelled) => "Cancelled",
        (Lang::En, Change::Fired) => "Fired",
        (Lang::En, Change::Escalated) => "Escalated",
        (Lang::En, Change::Deescalated) => "De-escalated",
        (Lang::En, Change::Renotified) => "Still firing",
        (Lang::En, Change::Resolved) => "Resolved",
        (Lang::En, Change::Flapping) => "Flapping",
        (Lang::En, Change::Settled) => "Settled",
        (Lang::En, Change::Unacknowledged) => "Not acknowledged",
    }
}

/// A level name in `lang`. Names written in the field's own terms (`BĐ II`)
/// and any name not listed here are kept as written; in Vietnamese the
/// English names of the example rules become the field's terms:
/// `risk level N` → `cấp độ rủi ro thiên tai N` (Decision 18/2021/QĐ-TTg),
/// `offline` → `mất kết nối`, `tamper` → `mở tủ trái phép`,
/// `flash flood` → `lũ quét`, `landslide warning` → `cảnh báo sạt lở`,
/// `overloaded` → `quá tải`.
pub fn level_name(name: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return name.to_owned();
    }
    if let Some(n) = name.strip_prefix("risk level ") {
        return format!("cấp độ rủi ro thiên tai {n}");
    }
    match name {
        "offline" => "mất kết nối",
        "tamper" => "mở tủ trái phép",
        "flash flood" => "lũ quét",
        "landslide warning" => "cảnh báo sạt lở",
        "overloaded" => "quá tải",
        other => other,
    }
    .to_owned()
}

/// `rl-001 @ muong-te`, `muong-te`, or the rule's group tags.
fn place(t: &Transition) -> String {
    let s = &t.series;
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = &s.device_id {
        parts.push(d.clone());
    }
    if let Some(site) = &s.site {
        parts.push(site.clone());
    }
    if parts.is_empty() {
        parts.extend(s.tags.iter().map(|(k, v)| format!("{k}={v}")));
    }
    parts.join(" @ ")
}

/// How the value compares with the threshold, in words.
fn reading(t: &Transition, deadman: bool, lang: Lang) -> Option<String> {
    let v = t.value?;
    if deadman {
        let limit = t.threshold.map(|l| duration(l, lang));
        return Some(match (lang, limit) {
            (Lang::Vi, Some(l)) => format!("không có số liệu trong {} (giới hạn {l})", duration(v, lang)),
            (Lang::Vi, None) => format!("không có số liệu trong {}", duration(v, lang)),
            (Lang::En, Some(l)) => format!("no reading for {} (limit {l})", duration(v, lang)),
            (Lang::En, None) => format!("no reading for {}", duration(v, lang)),
        });
    }
    let value = number(v, lang);
    Some(match (t.threshold, lang) {
        (Some(th), lang) => {
            let sign = if v >= th { "≥" } else { "≤" };
            match lang {
                Lang::Vi => format!("giá trị {value} {sign} ngưỡng {}", number(th, lang)),
                Lang::En => format!("value {value} {sign} threshold {}", number(th, lang)),
            }
        }
        (None, Lang::Vi) => format!("giá trị {value}"),
        (None, Lang::En) => format!("value {value}"),
    })
}

/// The transition told in `lang`. `deadman`: the rule is a deadman (its
/// value is seconds of silence).
pub fn render(t: &Transition, deadman: bool, lang: Lang) -> Text {
    let level = level_name(&t.level, lang);
    let place = place(t);
    let subject = format!(
        "[{}] {}: {} — {} — {}",
        severity(t.severity, lang),
        change(t.change, lang),
        level,
        t.rule_name,
        place
    );
    let mut body = Vec::new();
    let (l_rule, l_level, l_where, l_reading, l_at, l_episode, l_message, l_id, l_late) = match lang {
        Lang::Vi => (
            "Cảnh báo",
            "Mức",
            "Trạm",
            "Số liệu",
            "Thời điểm",
            "Bắt đầu đợt",
            "Nội dung",
            "Mã cảnh báo",
            "Số liệu gửi muộn (sau khi mất sóng), nhận lúc",
        ),
        Lang::En => (
            "Alert",
            "Level",
            "Station",
            "Reading",
            "Time",
            "Episode began",
            "Message",
            "Alert id",
            "Late data (uploaded after a coverage gap), received",
        ),
    };
    body.push(format!("{l_rule}: {} ({})", t.rule_name, t.rule_id));
    let mut lvl = format!("{l_level}: {level} — {}", severity(t.severity, lang));
    if let Some(prev) = &t.previous_level {
        let word = match lang {
            Lang::Vi => "trước đó",
            Lang::En => "was",
        };
        lvl.push_str(&format!(" ({word} {})", level_name(prev, lang)));
    }
    body.push(format!("{}: {lvl}", change(t.change, lang)));
    let mut station = place;
    if let Some(m) = &t.series.measurement {
        station.push_str(&format!(" · {m}"));
    }
    body.push(format!("{l_where}: {station}"));
    if let Some(r) = reading(t, deadman, lang) {
        body.push(format!("{l_reading}: {r}"));
    }
    body.push(format!("{l_at}: {}", ict_time(t.event_time_ns)));
    if t.episode_start_ns != t.event_time_ns {
        body.push(format!("{l_episode}: {}", ict_time(t.episode_start_ns)));
    }
    if t.late {
        body.push(format!("{l_late} {}", ict_time(t.evaluated_at_ns)));
    }
    // An escalation's message is the gateway's English prefix and the
    // alert's own message: the span said in `lang`, the message as written.
    let mut message = t.message.as_str();
    if t.change == Change::Unacknowledged
        && let Some((unacked, own)) = super::operator::unacknowledged_parts(message)
    {
        let span = duration(unacked.as_secs_f64(), lang);
        body.push(match lang {
            Lang::Vi => format!("Chưa ai xác nhận sau {span}"),
            Lang::En => format!("Nobody acknowledged it for {span}"),
        });
        message = own;
    }
    if !message.is_empty() {
        body.push(format!("{l_message}: {message}"));
    }
    body.push(format!("{l_id}: {}", t.alert_id));
    let mut body = body.join("\n");
    body.push('\n');
    Text { subject, body }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use telegate_alert::{AlertState, SeriesKey};

    use super::*;

    /// 06/12/2026 07:05:30 UTC = 14:05 ICT.
    const T: i64 = 1_796_540_730_000_000_000;

    fn flood() -> Transition {
        Transition {
            alert_id: "3f1c9a0b7d2e4f18".into(),
            rule_id: "flood-muong-te".into(),
            rule_name: "Flood alarm, Mường Tè (Đà)".into(),
            level: "BĐ III".into(),
            previous_level: Some("BĐ II".into()),
            severity: Severity::Critical,
            series: SeriesKey {
                measurement: Some("river_level".into()),
                device_id: Some("rl-001".into()),
                site: Some("muong-te".into()),
                tags: BTreeMap::new(),
            },
            from: AlertState::Firing,
            to: AlertState::Firing,
            change: Change::Escalated,
            value: Some(290.12),
            threshold: Some(290.0),
            values: BTreeMap::new(),
            event_time_ns: T,
            episode_start_ns: T - 7_200_000_000_000,
            evaluated_at_ns: T + 400_000_000,
            late: false,
            silenced_by: None,
            message: "rl-001 at muong-te: stage 290.12 m ≥ BĐ III (290 m)".into(),
        }
    }

    #[test]
    fn times_are_ict_day_first() {
        assert_eq!(ict_time(T), "06/12/2026 14:05 ICT");
        assert_eq!(ict_time(0), "01/01/1970 07:00 ICT");
        // 31/12 23:30 UTC is already the next year in Vietnam.
        assert_eq!(ict_time(1_798_759_800_000_000_000), "01/01/2027 06:30 ICT");
        assert_eq!(ict_time(951_782_400_000_000_000), "29/02/2000 07:00 ICT");
    }

    #[test]
    fn numbers_use_the_languages_decimal_mark() {
        assert_eq!(number(290.12, Lang::Vi), "290,12");
        assert_eq!(number(290.0, Lang::Vi), "290");
        assert_eq!(number(288.5, Lang::En), "288.5");
        assert_eq!(number(-0.001, Lang::En), "0");
        assert_eq!(duration(7505.0, Lang::Vi), "2 giờ 5 phút");
        assert_eq!(duration(1800.0, Lang::En), "30 min");
    }

    #[test]
    fn vietnamese_escalation() {
        let t = render(&flood(), false, Lang::Vi);
        assert_eq!(
            t.subject,
            "[KHẨN CẤP] Tăng cấp: BĐ III — Flood alarm, Mường Tè (Đà) — rl-001 @ muong-te"
        );
        assert_eq!(
            t.body,
            "Cảnh báo: Flood alarm, Mường Tè (Đà) (flood-muong-te)\n\
             Tăng cấp: Mức: BĐ III — KHẨN CẤP (trước đó BĐ II)\n\
             Trạm: rl-001 @ muong-te · river_level\n\
             Số liệu: giá trị 290,12 ≥ ngưỡng 290\n\
             Thời điểm: 06/12/2026 14:05 ICT\n\
             Bắt đầu đợt: 06/12/2026 12:05 ICT\n\
             Nội dung: rl-001 at muong-te: stage 290.12 m ≥ BĐ III (290 m)\n\
             Mã cảnh báo: 3f1c9a0b7d2e4f18\n"
        );
    }

    #[test]
    fn english_escalation() {
        let t = render(&flood(), false, Lang::En);
        assert_eq!(
            t.subject,
            "[CRITICAL] Escalated: BĐ III — Flood alarm, Mường Tè (Đà) — rl-001 @ muong-te"
        );
        assert!(
            t.body.contains("Escalated: Level: BĐ III — CRITICAL (was BĐ II)\n"),
            "{}",
            t.body
        );
        assert!(t.body.contains("Reading: value 290.12 ≥ threshold 290\n"), "{}", t.body);
        assert!(t.body.contains("Time: 06/12/2026 14:05 ICT\n"), "{}", t.body);
    }

    #[test]
    fn risk_levels_deadman_and_late_data_in_the_fields_terms() {
        let mut t = flood();
        t.rule_name = "Rain over 24 h".into();
        t.level = "risk level 2".into();
        t.previous_level = None;
        t.change = Change::Fired;
        t.late = true;
        let vi = render(&t, false, Lang::Vi);
        assert!(
            vi.subject
                .starts_with("[KHẨN CẤP] Báo động: cấp độ rủi ro thiên tai 2 — "),
            "{}",
            vi.subject
        );
        assert!(
            vi.body
                .contains("Số liệu gửi muộn (sau khi mất sóng), nhận lúc 06/12/2026 14:05 ICT\n")
        );
        assert!(render(&t, false, Lang::En).subject.contains("risk level 2"));
        t.level = "offline".into();
        t.change = Change::Resolved;
        t.value = Some(7505.0);
        t.threshold = Some(1800.0);
        let vi = render(&t, true, Lang::Vi);
        assert!(vi.subject.contains("Đã hết: mất kết nối"), "{}", vi.subject);
        assert!(
            vi.body
                .contains("Số liệu: không có số liệu trong 2 giờ 5 phút (giới hạn 30 phút)\n"),
            "{}",
            vi.body
        );
        let en = render(&t, true, Lang::En);
        assert!(
            en.body.contains("Reading: no reading for 2 h 5 min (limit 30 min)\n"),
            "{}",
            en.body
        );
    }

    #[test]
    fn an_unacknowledged_escalation_is_told_in_the_language() {
        let mut t = flood();
        t.change = Change::Unacknowledged;
        t.previous_level = None;
        t.message = "not acknowledged for 15m: rl-001 tại muong-te: mực nước 290,12 m".into();
        let vi = render(&t, false, Lang::Vi);
        assert!(
            vi.subject.starts_with("[KHẨN CẤP] Chưa ai xác nhận: BĐ III"),
            "{}",
            vi.subject
        );
        assert!(vi.body.contains("\nChưa ai xác nhận sau 15 phút\n"), "{}", vi.body);
        assert!(
            vi.body.contains("\nNội dung: rl-001 tại muong-te: mực nước 290,12 m\n"),
            "{}",
            vi.body
        );
        assert!(!vi.body.contains("not acknowledged"), "{}", vi.body);
        let en = render(&t, false, Lang::En);
        assert!(
            en.subject.starts_with("[CRITICAL] Not acknowledged: BĐ III"),
            "{}",
            en.subject
        );
        assert!(en.body.contains("\nNobody acknowledged it for 15 min\n"), "{}", en.body);
    }

    /// The ```text blocks of docs/alerts.md's "### Email" section.
    fn doc_examples() -> Vec<String> {
        let doc = include_str!("../../../../docs/alerts.md");
        let section = doc.split("### Email").nth(1).unwrap_or_default();
        let section = section.split("\n## ").next().unwrap_or_default();
        section
            .split("```text\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn docs_show_the_emails_as_rendered() {
        let examples = doc_examples();
        assert_eq!(examples.len(), 2, "{examples:?}");
        for (lang, doc) in [(Lang::Vi, &examples[0]), (Lang::En, &examples[1])] {
            let mut t = flood();
            t.episode_start_ns = T - 7_200_000_000_000;
            t.rule_name = "Flood alarm, Mường Tè (Đà)".into();
            let text = render(&t, false, lang);
            assert_eq!(*doc, format!("Subject: {}\n\n{}", text.subject, text.body), "{lang:?}");
        }
    }
}
