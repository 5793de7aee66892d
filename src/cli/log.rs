//! The log on stderr: `tracing` events as text or JSON lines, each write redacted, and — as
//! they share stderr with the progress bar — written through the [`Console`].

use std::io::IsTerminal;
use std::sync::Arc;

use super::{LogFormat, color};
use crate::apply::progress::Console;
use crate::diag::escape::terminal_text;

/// stderr for the log, with every token-shaped string redacted from each write (tracing writes
/// an event at a time); a text log also has its control characters escaped
/// ([`terminal_text`]: line breaks and, with colour, colour sequences stay).
struct RedactingStderr {
    /// `None` for JSON lines (serde escapes them); for text, whether it is coloured.
    text_colours: Option<bool>,
    /// Where the lines go: stderr, shared with the progress bar.
    console: Arc<Console>,
}

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let raw = String::from_utf8_lossy(buf);
        let text = match self.text_colours {
            Some(colours) => terminal_text(&raw, colours),
            None => raw,
        };
        // A log line never runs into the progress bar: the console clears it first.
        self.console
            .write(crate::slack_rules::redact_tokens(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Sends `tracing` events to stderr through `console`, as `format` and `SCIMSYNC_LOG` say.
pub fn init(format: LogFormat, console: Arc<Console>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let colours = color::get().stderr();
    let text_colours = (!json).then_some(colours);
    let builder = tracing_subscriber::fmt()
        .with_ansi(colours)
        .with_env_filter(filter)
        .with_writer(move || RedactingStderr {
            text_colours,
            console: console.clone(),
        });
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
