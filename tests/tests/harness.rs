//! The harness itself: each server starts, answers, stores what it is sent,
//! and the query helpers read it back.

use std::time::Duration;

use telegate_e2e::servers::{Influxd, Mosquitto, Victoria};
use telegate_e2e::{eventually, http_client};

const T_NS: i64 = 1_700_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn mosquitto_accepts_connections_and_comes_back_on_the_same_port() -> anyhow::Result<()> {
    let mut broker = Mosquitto::start().await?;
    assert_eq!(broker.host(), "127.0.0.1");
    tokio::net::TcpStream::connect((broker.host(), broker.port())).await?;
    let port = broker.port();
    broker.stop();
    assert!(
        tokio::net::TcpStream::connect((broker.host(), port)).await.is_err(),
        "stopped"
    );
    broker.start_again().await?;
    assert_eq!(broker.port(), port);
    tokio::net::TcpStream::connect((broker.host(), port)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn influxd_stores_a_point_and_reads_it_back_with_its_field_types() -> anyhow::Result<()> {
    let influx = Influxd::start().await?;
    influx.create_database("x").await?;
    influx.write("x", &format!("m,t=a v=1.5,i=2i {T_NS}")).await?;

    let rows = influx.select_all("x", "m").await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["time"].as_i64(), Some(T_NS));
    assert_eq!(rows[0]["t"].as_str(), Some("a"));
    assert_eq!(rows[0]["v"].as_f64(), Some(1.5));
    assert_eq!(rows[0]["i"].as_i64(), Some(2));
    assert_eq!(influx.count("x", "m", "v").await?, 1);

    let types = influx.field_types("x", "m").await?;
    assert_eq!(types.get("v").map(String::as_str), Some("float"), "{types:?}");
    assert_eq!(types.get("i").map(String::as_str), Some("integer"), "{types:?}");
    assert_eq!(types.len(), 2, "tags are not fields: {types:?}");

    assert!(influx.select_all("x", "nothing_here").await?.is_empty());
    assert!(
        influx.query("x", "SELEC nonsense").await.is_err(),
        "a bad query is an error"
    );
    assert!(
        influx.query("no_such_db", "SELECT * FROM m").await.is_err(),
        "so is a missing database"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn influxd_restart_keeps_the_data() -> anyhow::Result<()> {
    let mut influx = Influxd::start().await?;
    let url = influx.url();
    influx.create_database("x").await?;
    influx.write("x", &format!("m,t=a v=1.5 {T_NS}")).await?;
    // A crash: what was acknowledged is in the WAL.
    influx.stop();
    assert!(influx.query("x", "SHOW MEASUREMENTS").await.is_err(), "down");
    influx.start_again().await?;
    assert_eq!(influx.url(), url, "same port");
    assert_eq!(influx.select_all("x", "m").await?.len(), 1);

    influx.write("x", &format!("m,t=b v=2.5 {}", T_NS + 1)).await?;
    influx.restart().await?;
    let rows = influx.select_all("x", "m").await?;
    let tags: Vec<_> = rows.iter().map(|r| r["t"].as_str()).collect();
    assert_eq!(tags, [Some("a"), Some("b")], "{rows:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn victoria_metrics_takes_v2_writes_and_exports_them() -> anyhow::Result<()> {
    let vm = Victoria::start().await?;
    let resp = http_client()?
        .post(format!("{}/api/v2/write?bucket=x&precision=ns", vm.url()))
        .body(format!("m,t=a v=1.5 {T_NS}"))
        .send()
        .await?;
    assert!(resp.status().is_success(), "write answered {}", resp.status());

    let series = eventually(Duration::from_secs(10), || async {
        let s = vm.export("{__name__=\"m_v\"}").await?;
        Ok((!s.is_empty()).then_some(s))
    })
    .await?;
    assert_eq!(series.len(), 1, "{series:?}");
    let s = &series[0];
    assert_eq!(s["metric"]["__name__"].as_str(), Some("m_v"), "{s}");
    assert_eq!(s["metric"]["t"].as_str(), Some("a"), "{s}");
    assert_eq!(s["values"][0].as_f64(), Some(1.5), "{s}");
    assert_eq!(s["timestamps"][0].as_i64(), Some(T_NS / 1_000_000), "{s}");
    assert!(vm.export("{__name__=\"nothing_here\"}").await?.is_empty());
    Ok(())
}
