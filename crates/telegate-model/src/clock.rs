//! The wall clock as the rest of the gateway counts time: Unix nanoseconds
//! in an `i64`, the unit of line protocol and of every point's time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall clock in Unix nanoseconds; 0 if the clock is before 1970,
/// `i64::MAX` past 2262.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
