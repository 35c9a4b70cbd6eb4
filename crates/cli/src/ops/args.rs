//! The operations flags of `serve`: the metrics/health endpoint and the log format. One clap
//! `Args` struct, flattened into `serve`'s flags.

use std::net::SocketAddr;

/// The default metrics address: loopback only, so nothing is exposed unless asked for.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9775";

/// Operations flags of `serve`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsArgs {
    /// HTTP endpoint for Prometheus (/metrics) and health checks (/healthz: the engine loop turned
    /// within the last second; /readyz: the UDP sockets are bound), or `off`. Default
    /// 127.0.0.1:9775, loopback only (if that port is taken, the server runs without it).
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics, help_heading = crate::headings::METRICS)]
    pub metrics: Option<MetricsAddr>,

    /// Log line format: text (`time - name - LEVEL - message`) or json (one object a line with
    /// the same fields: timestamp, target, level, message).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, help_heading = crate::headings::LOGGING)]
    pub log_format: LogFormat,
}

/// Where the metrics endpoint listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAddr {
    /// Nowhere.
    Off,
    /// On this TCP address.
    At(SocketAddr),
}

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `time - name - LEVEL - message`.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

impl OpsArgs {
    /// The metrics address in force (the default if none was given).
    pub fn metrics_addr(&self) -> MetricsAddr {
        self.metrics.unwrap_or_else(|| {
            MetricsAddr::At(DEFAULT_METRICS.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9775))))
        })
    }
}

fn parse_metrics(s: &str) -> Result<MetricsAddr, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(MetricsAddr::Off);
    }
    s.parse::<SocketAddr>()
        .map(MetricsAddr::At)
        .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:9775, [::1]:9775 or `off`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_takes_an_address_or_off() {
        assert_eq!(parse_metrics("off"), Ok(MetricsAddr::Off));
        assert_eq!(parse_metrics("0.0.0.0:9100"), Ok(MetricsAddr::At("0.0.0.0:9100".parse().unwrap())));
        assert!(parse_metrics("9100").is_err());
        assert_eq!(OpsArgs::default().metrics_addr(), MetricsAddr::At(DEFAULT_METRICS.parse().unwrap()));
    }
}
