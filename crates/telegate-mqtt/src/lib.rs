//! telegate-mqtt
