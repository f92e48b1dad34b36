//! Why a replay could not run.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("cannot build the readings' encoder: {0}")]
    Encoder(#[from] telegate_sim::SimError),
    #[error("the topic pattern is invalid: {0}")]
    Topic(#[from] telegate_model::TopicError),
}
