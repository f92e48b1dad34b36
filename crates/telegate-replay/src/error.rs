//! Why a replay could not run. The cause is the source, not part of the
//! message: print it with `telegate_model::ErrorChain` (or anyhow's `{:#}`).

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("cannot build the readings' encoder")]
    Encoder(#[from] telegate_sim::SimError),
    #[error("the topic pattern is invalid")]
    Topic(#[from] telegate_model::TopicError),
}
