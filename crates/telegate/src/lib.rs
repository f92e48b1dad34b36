//! telegate
