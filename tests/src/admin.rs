//! Reading a gateway's admin listener: `/metrics` parsed into values.

use std::net::SocketAddr;

use anyhow::Context as _;

/// GET `path` with an optional bearer token: (status, body).
pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let client = crate::http_client()?;
    let mut req = client.get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.with_context(|| format!("GET {path} on {addr}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// DELETE `path` with an optional bearer token: (status, body).
pub async fn delete(addr: SocketAddr, path: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let client = crate::http_client()?;
    let mut req = client.delete(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.with_context(|| format!("DELETE {path} on {addr}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// The value of the sample `series` (a metric name with its labels exactly
/// as rendered, e.g. `telegate_messages_rejected_total{reason="malformed"}`).
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// [`value`], failing with the page when the series is missing.
pub fn require(page: &str, series: &str) -> anyhow::Result<f64> {
    value(page, series).with_context(|| format!("no sample `{series}` in /metrics:\n{page}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_exact_series_only() {
        let page = "# HELP a x\na_total 3\na_total{reason=\"x\"} 4\nab 5\n";
        assert_eq!(super::value(page, "a_total"), Some(3.0));
        assert_eq!(super::value(page, "a_total{reason=\"x\"}"), Some(4.0));
        assert_eq!(super::value(page, "a"), None);
    }
}
