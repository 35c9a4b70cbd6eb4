//! The ops flags ([`crate::ops::args`]): the metrics address.

use crate::ops::args::*;

#[test]
fn metrics_takes_an_address_or_off() {
    assert_eq!(parse_metrics("off"), Ok(MetricsAddr::Off));
    assert_eq!(parse_metrics("0.0.0.0:9100"), Ok(MetricsAddr::At("0.0.0.0:9100".parse().unwrap())));
    assert!(parse_metrics("9100").is_err());
    assert_eq!(OpsArgs::default().metrics_addr(), MetricsAddr::At(DEFAULT_METRICS.parse().unwrap()));
}
