//! The email output: each transition as a plain-text email in Vietnamese or
//! English (`alerts.email.language`, [`crate::alerting::text`]), one at a
//! time and in order, over SMTP with STARTTLS (required, not opportunistic)
//! or implicit TLS, and AUTH when a user is set. One SMTP session per
//! email: alerts are rare, and a pooled connection would die on a flaky
//! link between two of them anyway.
//!
//! A 2xx from the server is delivered. Connection and TLS failures,
//! timeouts and 4xx replies (the server's "try again later") are retried
//! with the outputs' backoff up to `max_attempts`; a 5xx reply (bad
//! recipient, authentication refused, message refused) drops the
//! transition at once, logged with the server's reply: retrying would get
//! the same answer.

use std::sync::Arc;

use lettre::message::{Mailbox, Mailboxes, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Failure, OneByOne, OutputError, deliver_each, error_chain};
use crate::alerting::config::{EmailConfig, SmtpTls};
use crate::alerting::payload::Delivery;
use crate::alerting::stats::{AlertStats, OutputKind};
use crate::alerting::text::{Lang, render};

/// The SMTP transport and the envelope parts that do not change per email.
#[derive(Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailboxes,
    language: Lang,
    /// `alerts.email.timeout`, for the whole session (lettre's own applies
    /// to each read and write).
    timeout: std::time::Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// `alerts.email.{key}` cannot be used: `problem` names the value, `source`
/// says what is wrong with it.
fn bad(key: &'static str, problem: String, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> OutputError {
    OutputError::Email {
        key,
        problem,
        source: source.into(),
    }
}

impl Mailer {
    pub(crate) fn new(cfg: &EmailConfig) -> Result<Mailer, OutputError> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| bad("from", format!("{:?}", cfg.from), e))?;
        let mut to = Mailboxes::new();
        for addr in &cfg.to {
            to.push(addr.parse().map_err(|e| bad("to", format!("{addr:?}"), e))?);
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.server.as_str())
            .port(cfg.port)
            .timeout(Some(cfg.timeout));
        if cfg.tls != SmtpTls::None {
            telegate_influx::install_crypto_provider();
            let mut params = TlsParameters::builder(cfg.server.clone());
            if !cfg.ca_file.is_empty() {
                let pem = std::fs::read(&cfg.ca_file)
                    .map_err(|e| bad("ca_file", format!("cannot read {:?}", cfg.ca_file), e))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| bad("ca_file", format!("{:?} holds no PEM certificate", cfg.ca_file), e))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| bad("tls", format!("cannot set up TLS for {}", cfg.server), e))?;
            builder = builder.tls(match cfg.tls {
                SmtpTls::Tls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if !cfg.hello_name.is_empty() {
            builder = builder.hello_name(ClientId::Domain(cfg.hello_name.clone()));
        }
        if !cfg.username.is_empty() {
            builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.expose().to_owned()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            to,
            language: cfg.language,
            timeout: cfg.timeout,
        })
    }

    /// The email of one transition (never fails for a valid config: the
    /// addresses were parsed at start, the text is ours).
    pub(crate) fn message(&self, d: &Delivery) -> Result<Message, lettre::error::Error> {
        let text = render(&d.transition, d.deadman, self.language);
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(text.subject)
            .header(ContentType::TEXT_PLAIN);
        for to in self.to.iter() {
            b = b.to(to.clone());
        }
        b.body(text.body)
    }

    async fn send(&self, d: &Delivery) -> Result<(), Failure> {
        let message = self
            .message(d)
            .map_err(|e| Failure::Refused(format!("cannot build the email: {e}")))?;
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
        let Ok(sent) = sent else {
            return Err(Failure::Retry {
                problem: format!("no answer within alerts.email.timeout ({:?})", self.timeout),
                retry_after: None,
            });
        };
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::Refused(error_chain(&e))),
            Err(e) => Err(Failure::Retry {
                problem: error_chain(&e),
                retry_after: None,
            }),
        }
    }
}

pub(crate) async fn run(
    mailer: Mailer,
    cfg: EmailConfig,
    rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
) {
    let how = OneByOne {
        kind: OutputKind::Email,
        target: format!("{}:{}", cfg.server, cfg.port),
        retry: cfg.retry(),
        max_attempts: cfg.max_attempts,
    };
    let min = cfg.min_severity;
    let mailer = Arc::new(mailer);
    deliver_each(
        how,
        rx,
        give_up,
        stats,
        move |d| d.transition.severity >= min,
        move |d| {
            let mailer = mailer.clone();
            async move { mailer.send(&d).await }
        },
    )
    .await;
}
