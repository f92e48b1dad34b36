//! What the broker's PUBACKs say about the QoS 1 messages we publish: one
//! reading of a PUBACK's reason code, and one way of matching PUBACKs to
//! the messages handed to the event loop, for every publisher (the alert
//! and dead-letter [`Publisher`](crate::Publisher), the simulator).
//!
//! The source's PUBACKs go the other way (we acknowledge what the broker
//! delivered, in arrival order) and are kept by `acks::AckTracker`.

use std::collections::HashSet;

use rumqttc::Outgoing;
use rumqttc::v5::Event;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAck, PubAckReason};

/// What one PUBACK says about the message it acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The broker has it and routed it.
    Stored,
    /// The broker has it, and no subscriber matched (MQTT 5 reason 0x10).
    /// Still a success: the broker took the message.
    NoSubscribers,
    /// The broker refused it (reason code ≥ 0x80), e.g. "NotAuthorized".
    Refused {
        /// The reason code and the broker's reason string, if it sent one.
        reason: String,
    },
}

impl Verdict {
    pub fn of(ack: &PubAck) -> Self {
        match ack.reason {
            PubAckReason::Success => Verdict::Stored,
            PubAckReason::NoMatchingSubscribers => Verdict::NoSubscribers,
            other => {
                let detail = ack
                    .properties
                    .as_ref()
                    .and_then(|p| p.reason_string.as_deref())
                    .unwrap_or_default();
                Verdict::Refused {
                    reason: format!("{other:?} {detail}").trim_end().to_owned(),
                }
            }
        }
    }
}

/// QoS 1 messages handed to the event loop and not yet acknowledged: those
/// still queued (their packet id is known only once the event loop writes
/// them) and those written and waiting for their PUBACK, by packet id.
#[derive(Debug, Default)]
pub struct InFlight {
    queued: usize,
    written: HashSet<u16>,
}

impl InFlight {
    /// `n` messages were just handed to the client.
    pub fn queued(n: usize) -> Self {
        Self {
            queued: n,
            written: HashSet::new(),
        }
    }

    /// Note one event of the event loop; the verdict when it is the PUBACK
    /// of one of these messages.
    pub fn note(&mut self, event: &Event) -> Option<Verdict> {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) if self.queued > 0 => {
                self.queued -= 1;
                self.written.insert(*pkid);
                None
            }
            Event::Incoming(Packet::PubAck(ack)) if self.written.remove(&ack.pkid) => Some(Verdict::of(ack)),
            _ => None,
        }
    }

    /// Every message is acknowledged.
    pub fn settled(&self) -> bool {
        self.queued == 0 && self.written.is_empty()
    }

    /// Messages not yet acknowledged.
    pub fn waiting(&self) -> usize {
        self.queued + self.written.len()
    }

    /// Messages written to the connection and not yet acknowledged: lost
    /// with the connection if it fails now (the broker may have them).
    pub fn on_the_wire(&self) -> usize {
        self.written.len()
    }
}

#[cfg(test)]
mod tests {
    use rumqttc::v5::mqttbytes::v5::PubAckProperties;

    use super::*;

    fn ack(pkid: u16, reason: PubAckReason, text: Option<&str>) -> Event {
        let properties = text.map(|t| PubAckProperties {
            reason_string: Some(t.to_owned()),
            user_properties: Vec::new(),
        });
        Event::Incoming(Packet::PubAck(PubAck {
            pkid,
            reason,
            properties,
        }))
    }

    #[test]
    fn pubacks_are_matched_to_the_messages_written_and_read_by_reason() {
        let mut f = InFlight::queued(3);
        assert_eq!(f.waiting(), 3);
        // A PUBACK for a packet id not ours (an earlier batch's) is ignored.
        assert_eq!(f.note(&ack(9, PubAckReason::Success, None)), None);
        for pkid in [4, 5, 6] {
            assert_eq!(f.note(&Event::Outgoing(Outgoing::Publish(pkid))), None);
        }
        assert_eq!(f.on_the_wire(), 3);
        // A fourth write is not one of ours.
        assert_eq!(f.note(&Event::Outgoing(Outgoing::Publish(7))), None);
        assert_eq!(f.note(&ack(7, PubAckReason::Success, None)), None);
        assert_eq!(f.note(&ack(5, PubAckReason::Success, None)), Some(Verdict::Stored));
        assert_eq!(
            f.note(&ack(4, PubAckReason::NoMatchingSubscribers, None)),
            Some(Verdict::NoSubscribers)
        );
        assert!(!f.settled());
        assert_eq!(
            f.note(&ack(6, PubAckReason::NotAuthorized, Some("topic not allowed"))),
            Some(Verdict::Refused {
                reason: "NotAuthorized topic not allowed".into()
            })
        );
        assert!(f.settled());
        // Acknowledged once: a repeated PUBACK says nothing more.
        assert_eq!(f.note(&ack(6, PubAckReason::Success, None)), None);
    }
}
