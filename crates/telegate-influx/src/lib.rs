//! telegate-influx
