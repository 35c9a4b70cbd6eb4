//! Logging set-up for `serve`: tracing to stderr and, unless disabled, to a size-rotated log file
//! (`rabid-hole-punch.log`, 10 MB × 10 backups, like the original). Lines read
//! `time - target - LEVEL - message`, close to the original's `time - name - LEVEL - message`.
//! Datagram text is escaped and its secrets redacted where it is logged (see
//! `rhp_server::Redacted`), not here. The log file and its rotated copies are readable by their
//! owner only (created mode 0600, then narrowed by the process's umask, e.g. a service's `UMask`;
//! an existing file is narrowed to 0600 when we own it).

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Size at which the log file is rotated.
pub const LOG_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Rotated files kept (`.1` … `.10`).
pub const LOG_FILE_BACKUPS: usize = 10;

/// Where logs go.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Most verbose level logged.
    pub level: LevelFilter,
    /// The rotating log file, or `None` for stderr only.
    pub file: Option<PathBuf>,
    /// Text or JSON lines.
    pub format: crate::ops::LogFormat,
}

/// Changes the most verbose level logged while the server runs (SIGHUP, see [`crate::reload`]).
pub type LevelHandle = tracing_subscriber::reload::Handle<LevelFilter, tracing_subscriber::Registry>;

/// `time - target - LEVEL - message`.
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        SystemTime.format_time(&mut w)?;
        let meta = event.metadata();
        let name = meta.target().split("::").next().unwrap_or("rabid-hole-punch");
        write!(w, " - {name} - {} - ", meta.level())?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the global subscriber; returns the handle that changes its level. Fails (with a
/// one-line reason) if the log file cannot be opened for appending.
pub fn init(opts: &LogOptions) -> Result<LevelHandle, String> {
    let file = match &opts.file {
        Some(path) => Some(Mutex::new(open_rotating(path)?)),
        None => None,
    };
    let stderr = crate::ops::log_format::layer(opts.format, std::io::stderr, LineFormat);
    let file = file.map(|f| crate::ops::log_format::layer(opts.format, f, LineFormat));
    let (level, handle) = tracing_subscriber::reload::Layer::new(opts.level);
    tracing_subscriber::registry()
        .with(level)
        .with(stderr)
        .with(file)
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))?;
    Ok(handle)
}

fn open_rotating(path: &Path) -> Result<FileRotate<AppendCount>, String> {
    // An absolute path, so the rotating writer never has to create a directory (it would panic
    // if it could not); check we can append before handing it over.
    let path =
        std::env::current_dir().map(|d| d.join(path)).map_err(|e| format!("no working directory: {e}"))?;
    if let Some(parent) = path.parent() {
        if !parent.is_dir() {
            return Err(format!(
                "cannot open log file {}: no directory {}",
                path.display(),
                parent.display()
            ));
        }
    }
    let file = owner_only(OpenOptions::new().create(true).append(true))
        .open(&path)
        .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
    narrow_to_owner(&file);
    Ok(FileRotate::new(
        &path,
        AppendCount::new(LOG_FILE_BACKUPS),
        // Rotate after the line that crosses the limit, so no line is split between two files.
        ContentLimit::BytesSurpassed(LOG_FILE_BYTES),
        Compression::None,
        // Each new file after a rotation is created owner-only too (rotated ones keep their mode).
        Some(owner_only(OpenOptions::new().read(true).create(true).append(true)).clone()),
    ))
}

/// Files these options create get mode 0600 (before the umask).
fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// An existing log file that others could read is narrowed to 0600 (best effort: a file we do
/// not own keeps the mode its owner chose).
fn narrow_to_owner(file: &std::fs::File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = file.metadata() {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}
