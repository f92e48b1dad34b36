//! Reproducibility, pacing, configuration, and the value models' behaviour
//! (read back through the gateway's decoder).

use std::collections::BTreeMap;

use telegate_model::Point;

use super::{BUILTIN, HOUR_NS, START_NS, config, decode, field, model_hour, text};
use crate::clock::Local;
use crate::params::FieldParams;
use crate::rng::stream;
use crate::weather::SiteWeather;
use crate::{Fleet, FleetConfig, MessageKind, SimError, dry_run};

#[test]
fn same_seed_and_start_give_identical_messages_and_another_seed_differs() {
    let run = |seed| {
        let cfg = FleetConfig {
            seed,
            ..config(24, 0.1)
        };
        let mut fleet = Fleet::new(&BUILTIN, cfg).unwrap();
        dry_run(&mut fleet, 500)
            .into_iter()
            .map(|m| (m.topic, m.payload, m.at_ns))
            .collect::<Vec<_>>()
    };
    let a = run(7);
    assert_eq!(a, run(7), "same seed, same bytes");
    let b = run(8);
    assert_eq!(a.len(), b.len());
    assert_ne!(a, b, "another seed, other values");
}

#[test]
fn the_pacing_clock_spaces_messages_by_one_over_rate() {
    let cfg = FleetConfig {
        rate: 20.0,
        ..config(5, 0.0)
    };
    let mut fleet = Fleet::new(&BUILTIN, cfg).unwrap();
    for (n, m) in dry_run(&mut fleet, 100).iter().enumerate() {
        assert_eq!(m.at_ns, START_NS + n as i64 * 50_000_000);
    }
    assert_eq!(fleet.produced(), 100);
}

#[test]
fn bad_configs_are_refused() {
    let bad = [
        FleetConfig {
            devices: 0,
            ..config(1, 0.0)
        },
        FleetConfig {
            rate: 0.0,
            ..config(1, 0.0)
        },
        FleetConfig {
            rate: f64::NAN,
            ..config(1, 0.0)
        },
        FleetConfig {
            speed: -1.0,
            ..config(1, 0.0)
        },
        config(1, 1.5),
        FleetConfig {
            sites: vec![],
            ..config(1, 0.0)
        },
        FleetConfig {
            sites: vec!["a b".into()],
            ..config(1, 0.0)
        },
        FleetConfig {
            max_payload_bytes: 10,
            ..config(1, 0.0)
        },
    ];
    for cfg in bad {
        let err = Fleet::new(&BUILTIN, cfg.clone()).expect_err(&format!("{cfg:?}"));
        assert!(!matches!(err, SimError::Connect { .. } | SimError::Mqtt(_)), "{err}");
    }
}

/// The good points of every message of `sensor_type` over `n` messages.
fn points_of(cfg: &FleetConfig, n: usize, sensor_type: &str) -> Vec<Point> {
    let mut fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    dry_run(&mut fleet, n)
        .into_iter()
        .filter(|m| m.sensor_type == sensor_type && matches!(m.kind, MessageKind::Good { .. }))
        .flat_map(|m| decode(&BUILTIN, cfg, &m).unwrap())
        .collect()
}

#[test]
fn a_simulated_year_of_rain_matches_lai_chau_climate() {
    let params = FieldParams::default();
    let climate = params.site("muong-te");
    let jan1 = 1_735_689_600 * 1_000_000_000; // 2025-01-01T00:00Z
    let mut site = SiteWeather::new(climate, &params, stream(3, 1, 0), jan1);
    let mut by_month = [0.0; 12];
    let mut wettest_hour: f64 = 0.0;
    let mut last = site.rain_total_mm();
    for hour in 1..=365 * 24 {
        let t = jan1 + hour * HOUR_NS;
        site.advance_to(t);
        let fell = site.rain_total_mm() - last;
        last = site.rain_total_mm();
        wettest_hour = wettest_hour.max(fell);
        by_month[Local::at(t - 1, 7.0).month - 1] += fell;
    }
    let year: f64 = by_month.iter().sum();
    let rainy: f64 = by_month[3..10].iter().sum();
    assert!(
        (1800.0..=3300.0).contains(&year),
        "{year:.0} mm a year ({by_month:.0?})"
    );
    assert!(
        rainy / year > 0.75,
        "rainy season April-October: {:.0} %",
        100.0 * rainy / year
    );
    assert!(wettest_hour >= 25.0, "bursts: wettest hour {wettest_hour:.1} mm");
}

#[test]
fn air_temperature_peaks_mid_afternoon_and_bottoms_near_dawn() {
    let params = FieldParams::default();
    let start = 1_735_689_600 * 1_000_000_000 - 7 * HOUR_NS; // 2025-01-01T00:00 local
    let mut site = SiteWeather::new(params.site("sin-ho"), &params, stream(5, 1, 0), start);
    let (mut dawn, mut afternoon) = (0.0, 0.0);
    for day in 0..30 {
        let t = start + day * 24 * HOUR_NS;
        site.advance_to(t + 6 * HOUR_NS);
        dawn += site.air_temp_c(&Local::at(t + 6 * HOUR_NS, 7.0));
        site.advance_to(t + 14 * HOUR_NS + HOUR_NS / 2);
        afternoon += site.air_temp_c(&Local::at(t + 14 * HOUR_NS + HOUR_NS / 2, 7.0));
    }
    let (dawn, afternoon) = (dawn / 30.0, afternoon / 30.0);
    assert!(afternoon > dawn + 3.0, "dawn {dawn:.1} °C, afternoon {afternoon:.1} °C");
    // Sìn Hồ in January: mean 10.2 °C.
    assert!(
        (4.0..=16.0).contains(&((dawn + afternoon) / 2.0)),
        "{dawn:.1}/{afternoon:.1}"
    );
}

#[test]
fn batteries_charge_by_day_and_drain_at_night() {
    let cfg = FleetConfig {
        speed: 600.0,
        ..config(8, 0.0)
    };
    let points = points_of(&cfg, 4000, "device_health");
    let mut night = Vec::new();
    let mut day = Vec::new();
    for p in &points {
        let hour = model_hour(&cfg, p.time_ns);
        let solar = field(p, "solar_v").unwrap();
        if !(5.0..19.0).contains(&hour) {
            assert_eq!(solar, 0.0, "no sun at {hour:.1} h");
            assert_eq!(field(p, "charging"), Some(0.0));
            night.push(field(p, "battery_v").unwrap());
        } else if (10.0..14.0).contains(&hour) {
            assert!(solar > 5.0, "sun at {hour:.1} h: {solar}");
            day.push(field(p, "battery_v").unwrap());
        }
        let rsrp = field(p, "rsrp_dbm").unwrap();
        assert!((-140.0..=-44.0).contains(&rsrp));
        assert!(text(p, "network").is_some());
    }
    assert!(!night.is_empty() && !day.is_empty());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&day) > mean(&night),
        "day {} V, night {} V",
        mean(&day),
        mean(&night)
    );
}

#[test]
fn lane_counters_follow_gate_hours() {
    let cfg = FleetConfig {
        speed: 600.0,
        ..config(8, 0.0)
    };
    let (mut open, mut closed) = (0.0, 0.0);
    for p in points_of(&cfg, 6000, "lane_counter") {
        let hour = model_hour(&cfg, p.time_ns);
        let vehicles: f64 = ["cars", "trucks", "buses", "motorbikes", "containers"]
            .iter()
            .map(|f| field(&p, f).unwrap_or(0.0))
            .sum();
        if (7.0..19.0).contains(&hour) {
            open += vehicles;
        } else {
            closed += vehicles;
        }
        assert!(text(&p, "lane").is_none(), "lane is a tag");
        assert!(p.tags.iter().any(|(k, _)| &**k == "lane"));
    }
    assert_eq!(closed, 0.0, "nothing crosses a closed gate");
    assert!(open > 20.0, "{open} vehicles while open");
}

#[test]
fn weighbridge_loads_are_mostly_legal_with_some_overloads() {
    let cfg = FleetConfig {
        speed: 1200.0,
        ..config(8, 0.0)
    };
    let legal: BTreeMap<&str, f64> = [
        ("rigid_2_axle", 16.0),
        ("rigid_3_axle", 24.0),
        ("rigid_4_axle", 30.0),
        ("rigid_5_plus", 34.0),
        ("tractor_3_axle", 26.0),
        ("tractor_4_axle", 34.0),
        ("tractor_5_plus", 40.0),
    ]
    .into();
    // A week: one weighing per truck, 20-80 trucks a day, only while open.
    let points = points_of(&cfg, 10_000, "weighbridge");
    assert!(
        (7 * 20..=7 * 80).contains(&points.len()),
        "{} weighings in a week",
        points.len()
    );
    let mut over = 0;
    for p in &points {
        let axles = field(p, "axle_count").unwrap() as usize;
        assert!(field(p, &format!("axle_loads_t_{axles}")).is_some());
        assert!(field(p, &format!("axle_loads_t_{}", axles + 1)).is_none());
        assert!(
            (7.0..19.0).contains(&model_hour(&cfg, p.time_ns)),
            "weighed while the gate is open"
        );
        let limit = legal[text(p, "axle_config").unwrap()];
        if field(p, "gross_t").unwrap() > limit * 1.005 {
            over += 1;
        }
    }
    let share = f64::from(over) / points.len() as f64;
    assert!((0.03..=0.25).contains(&share), "overloaded share {share:.2}");
}

#[test]
fn rivers_rise_and_recede_with_the_rain_in_the_rainy_season() {
    let cfg = FleetConfig {
        speed: 3600.0,
        start_ns: 1_751_302_800 * 1_000_000_000, // 2025-07-01T00:00 local
        ..config(8, 0.0)
    };
    let mut stages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    for m in dry_run(&mut fleet, 12_000) {
        if m.sensor_type == "river_level" {
            for p in decode(&BUILTIN, &cfg, &m).unwrap() {
                stages
                    .entry(m.device_id.clone())
                    .or_default()
                    .push(field(&p, "stage_m").unwrap());
                assert!(matches!(text(&p, "mode"), Some("normal" | "flood")));
            }
        }
    }
    let swing = stages
        .values()
        .map(|s| s.iter().copied().fold(f64::MIN, f64::max) - s.iter().copied().fold(f64::MAX, f64::min))
        .fold(0.0, f64::max);
    assert!(swing >= 0.3, "a July fortnight moves the river: {swing:.2} m");
}
