//! telegate-model
