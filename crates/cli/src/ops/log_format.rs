//! The log line formats of `serve`: `text` (`time - name - LEVEL - message`, the original's shape)
//! and `json` (one object a line with the same fields, `timestamp`, `target`, `level`, `message`,
//! for log shippers), as a tracing layer for any writer.

use super::LogFormat;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A layer writing `format` lines to `writer`; `text` uses `line_format` (the text format's event
/// formatter, kept where the logging set-up defines it).
pub fn layer<S, W, F>(format: LogFormat, writer: W, line_format: F) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, tracing_subscriber::fmt::format::DefaultFields>
        + Send
        + Sync
        + 'static,
{
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer().event_format(line_format).with_ansi(false).with_writer(writer),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(true)
                .with_ansi(false)
                .with_writer(writer),
        ),
    }
}
