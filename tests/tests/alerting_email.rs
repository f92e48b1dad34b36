//! The email output end to end: a real gateway (Mosquitto, InfluxDB 1.x)
//! emails its transitions to a real SMTP server started by the test
//! (aiosmtpd, `telegate_e2e::smtp`) that requires STARTTLS and AUTH, with a
//! certificate of the test's own CA (`alerts.email.ca_file`). The message
//! is read back as received: its subject and body in Vietnamese, then in
//! English, with the field's terms and the time in ICT. A server that is
//! down when an alert fires gets it once it is back, exactly once.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use prost_reflect::Value as Proto;
use telegate::alerting::config::{EmailConfig, SmtpTls};
use telegate::alerting::text::Lang;
use telegate_e2e::admin::require;
use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::pki::Pki;
use telegate_e2e::rules::flood_muong_te_vi;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::smtp::{Mail, SmtpServer};
use telegate_model::Secret;

fn email_config(smtp: &SmtpServer, pki: &Pki, language: Lang) -> EmailConfig {
    EmailConfig {
        server: "localhost".into(),
        port: smtp.port(),
        tls: SmtpTls::Starttls,
        ca_file: pki.ca.display().to_string(),
        username: smtp.user.clone(),
        password: Secret::new(smtp.password.clone()),
        from: "telegate Lai Châu <telegate@laichau.example>".into(),
        to: vec!["Trực ban <truc-ban@laichau.example>".into()],
        language,
        min_severity: telegate_alert::Severity::Warning,
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_millis(800),
        max_attempts: 0,
        ..EmailConfig::default()
    }
}

async fn gateway(
    name: &str,
    broker: &Mosquitto,
    influx: &Influxd,
    dir: &std::path::Path,
    email: EmailConfig,
) -> anyhow::Result<Gateway> {
    let rules = dir.join("alerts.toml");
    std::fs::write(&rules, flood_muong_te_vi())?;
    let mut config = test_config(name, broker.port(), &influx.url());
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.join(format!("{name}-state.json")).display().to_string();
    config.alerts.mqtt.enabled = false;
    config.alerts.email = email;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    Ok(gw)
}

/// One river reading of `device` at Mường Tè.
async fn stage(gw: &Gateway, publisher: &mut Publisher, device: &str, time_ns: i64, m: f64) -> anyhow::Result<()> {
    let s = gw.registry.get("river_level").context("river_level schema")?;
    let mut sample = valid_sample(&s.sample, time_ns, 1);
    let field = s.sample.get_field_by_name("stage_m").context("stage_m")?;
    sample.set_field(&field, Proto::F64(m));
    publisher
        .publish(
            &format!("telemetry/muong-te/{device}/river_level"),
            batch(&s.message, device, vec![sample]),
        )
        .await?;
    publisher.flush().await
}

/// The decoded text of a received message: headers unfolded and MIME
/// encoded-words decoded by Python's email package (what a mail client shows).
fn decoded(mail: &Mail) -> anyhow::Result<(String, String)> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, email, email.policy\n\
             m = email.message_from_string(sys.stdin.read(), policy=email.policy.default)\n\
             print(m['subject'])\n\
             print(m.get_body(('plain',)).get_content(), end='')",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(mail.raw.as_bytes())?;
            }
            child.wait_with_output()
        })?;
    ensure!(out.status.success(), "python could not parse the email: {}", mail.raw);
    let text = String::from_utf8(out.stdout)?.replace("\r\n", "\n");
    let (subject, body) = text.split_once('\n').context("subject line")?;
    Ok((subject.to_owned(), body.to_owned()))
}

/// The messages received once there are `n`, and no more after a moment
/// (a second copy would follow a first within it).
async fn wait_mail(smtp: &SmtpServer, n: usize, settle: Duration) -> anyhow::Result<Vec<Mail>> {
    eventually(Duration::from_secs(20), || async {
        let m = smtp.mail()?;
        Ok((m.len() >= n).then_some(()))
    })
    .await
    .with_context(|| smtp.log_tail())?;
    tokio::time::sleep(settle).await;
    let mails = smtp.mail()?;
    ensure!(mails.len() == n, "{n} emails expected: {mails:#?}");
    Ok(mails)
}

/// `dd/mm/yyyy HH:MM ICT` of a time, as the email must say it.
fn ict(ns: i64) -> String {
    telegate::alerting::text::ict_time(ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_emails_arrive_over_starttls_with_auth_in_vietnamese_and_english() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path())?;
    let smtp = SmtpServer::start(&pki).await?;
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut publisher = Publisher::connect("email-fleet", broker.port()).await?;
    let min = 60_000_000_000_i64;
    // Live readings (not "late": within 5 minutes of the gateway's clock).
    let t0 = now_ms_ns() - 3 * min;

    // Vietnamese: BĐ I (info, below min_severity: not emailed), then BĐ III.
    let gw = gateway(
        "gw-email-vi",
        &broker,
        &influx,
        dir.path(),
        email_config(&smtp, &pki, Lang::Vi),
    )
    .await?;
    stage(&gw, &mut publisher, "rl-001", t0, 287.20).await?;
    stage(&gw, &mut publisher, "rl-001", t0 + min, 290.42).await?;
    let mails = eventually(Duration::from_secs(20), || async {
        let m = smtp.mail()?;
        Ok((!m.is_empty()).then_some(m))
    })
    .await
    .with_context(|| smtp.log_tail())?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = if smtp.mail()?.len() > mails.len() {
        smtp.mail()?
    } else {
        mails
    };
    ensure!(
        mails.len() == 1,
        "only the critical escalation is emailed (min_severity = warning): {mails:#?}"
    );
    let mail = &mails[0];
    ensure!(
        mail.session["tls"] == true && mail.session["authenticated"] == true,
        "STARTTLS and AUTH: {}",
        mail.session
    );
    ensure!(
        mail.session["rcpt_tos"][0] == "truc-ban@laichau.example",
        "{}",
        mail.session
    );
    let (subject, body) = decoded(mail)?;
    eprintln!("--- Vietnamese email ---\nSubject: {subject}\n{body}");
    ensure!(
        subject == "[KHẨN CẤP] Tăng cấp: BĐ III — Lũ sông Đà tại Mường Tè — rl-001 @ muong-te",
        "{subject}"
    );
    for want in [
        "Cảnh báo: Lũ sông Đà tại Mường Tè (flood-muong-te)\n".to_owned(),
        "Tăng cấp: Mức: BĐ III — KHẨN CẤP (trước đó BĐ I)\n".to_owned(),
        "Trạm: rl-001 @ muong-te · river_level\n".to_owned(),
        "Số liệu: giá trị 290,42 ≥ ngưỡng 290\n".to_owned(),
        format!("Thời điểm: {}\n", ict(t0 + min)),
        format!("Bắt đầu đợt: {}\n", ict(t0)),
        "Nội dung: rl-001 tại muong-te: mực nước 290.42 m ≥ BĐ III (290 m)\n".to_owned(),
    ] {
        ensure!(body.contains(&want), "the Vietnamese body lacks {want:?}:\n{body}");
    }
    ensure!(!body.contains("muộn"), "a live reading is not late data: {body}");
    ensure!(
        mail.raw.contains("From: =?utf-8?") || mail.raw.contains("telegate@laichau.example"),
        "{}",
        mail.raw
    );
    gw.stop().await;

    // English, another gauge: fired at BĐ II.
    let gw = gateway(
        "gw-email-en",
        &broker,
        &influx,
        dir.path(),
        email_config(&smtp, &pki, Lang::En),
    )
    .await?;
    stage(&gw, &mut publisher, "rl-002", t0 + 2 * min, 288.61).await?;
    let mails = wait_mail(&smtp, 2, Duration::ZERO).await?;
    let (subject, body) = decoded(&mails[1])?;
    eprintln!("--- English email ---\nSubject: {subject}\n{body}");
    ensure!(
        subject == "[WARNING] Fired: BĐ II — Lũ sông Đà tại Mường Tè — rl-002 @ muong-te",
        "{subject}"
    );
    for want in [
        "Fired: Level: BĐ II — WARNING\n".to_owned(),
        "Reading: value 288.61 ≥ threshold 288.5\n".to_owned(),
        format!("Time: {}\n", ict(t0 + 2 * min)),
        "Station: rl-002 @ muong-te · river_level\n".to_owned(),
    ] {
        ensure!(body.contains(&want), "the English body lacks {want:?}:\n{body}");
    }
    let page = telegate_e2e::admin::get(gw.admin_addr().context("admin")?, "/metrics", None)
        .await?
        .1;
    ensure!(
        require(&page, "telegate_alert_delivered_total{output=\"email\"}")? == 1.0,
        "{page}"
    );
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_raised_while_the_smtp_server_is_down_is_sent_once_when_it_returns() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path())?;
    let mut smtp = SmtpServer::start(&pki).await?;
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    smtp.stop();
    let gw = gateway(
        "gw-email-retry",
        &broker,
        &influx,
        dir.path(),
        email_config(&smtp, &pki, Lang::Vi),
    )
    .await?;
    let addr = gw.admin_addr().context("admin")?;
    let mut publisher = Publisher::connect("email-retry-fleet", broker.port()).await?;
    stage(&gw, &mut publisher, "rl-003", now_ms_ns(), 290.10).await?;
    eventually(Duration::from_secs(15), || async {
        let page = telegate_e2e::admin::get(addr, "/metrics", None).await?.1;
        Ok((require(&page, "telegate_alert_output_errors_total{output=\"email\"}")? >= 2.0).then_some(()))
    })
    .await?;
    ensure!(smtp.mail()?.is_empty());
    smtp.start_again().await?;
    let mails = eventually(Duration::from_secs(15), || async {
        let m = smtp.mail()?;
        Ok((!m.is_empty()).then_some(m))
    })
    .await
    .with_context(|| smtp.log_tail())?;
    // A second copy would follow within moments.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = if smtp.mail()?.len() > mails.len() {
        smtp.mail()?
    } else {
        mails
    };
    ensure!(mails.len() == 1, "delivered once: {mails:#?}");
    let (subject, _) = decoded(&mails[0])?;
    ensure!(subject.starts_with("[KHẨN CẤP] Báo động: BĐ III"), "{subject}");
    let page = telegate_e2e::admin::get(addr, "/metrics", None).await?.1;
    ensure!(
        require(&page, "telegate_alert_delivered_total{output=\"email\"}")? == 1.0,
        "{page}"
    );
    ensure!(
        require(&page, "telegate_alert_queue_depth{queue=\"email\"}")? == 0.0,
        "{page}"
    );
    gw.stop().await;
    Ok(())
}
