//! telegate-schema
