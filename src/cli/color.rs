//! Whether output is coloured: `--color auto|always|never` and the `NO_COLOR` convention
//! (<https://no-color.org>: a non-empty value turns colour off). `always` beats `NO_COLOR`;
//! `auto` colours a stream that is a terminal unless `NO_COLOR` says not to.

use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

/// `--color`: when to colour the plan, diagnostics and log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (non-empty).
    #[default]
    Auto,
    /// Always, even when piped and even with `NO_COLOR` set.
    Always,
    /// Never.
    Never,
}

/// The colour decision for one run: the choice and the environment, asked per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colors {
    choice: ColorChoice,
    no_color: bool,
}

impl Colors {
    /// The decision for `choice` in the process environment.
    pub fn from_env(choice: ColorChoice) -> Self {
        Self::new(choice, std::env::var_os("NO_COLOR").as_deref())
    }

    /// The decision for `choice` when `NO_COLOR` holds `no_color` (`None`: unset).
    pub fn new(choice: ColorChoice, no_color: Option<&std::ffi::OsStr>) -> Self {
        Colors {
            choice,
            no_color: no_color.is_some_and(|v| !v.is_empty()),
        }
    }

    /// Whether a stream that is (or is not) a terminal gets colour.
    pub fn for_terminal(self, is_terminal: bool) -> bool {
        match self.choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !self.no_color,
        }
    }

    /// Colour on stdout.
    pub fn stdout(self) -> bool {
        self.for_terminal(std::io::stdout().is_terminal())
    }

    /// Colour on stderr.
    pub fn stderr(self) -> bool {
        self.for_terminal(std::io::stderr().is_terminal())
    }

    /// Whether diagnostics on a stream are drawn for a person (source snippets, miette's
    /// graphics): on a terminal, or whenever colour is forced.
    pub fn fancy(self, is_terminal: bool) -> bool {
        is_terminal || self.choice == ColorChoice::Always
    }
}

/// The last `--color` value in `args` (`--color X` or `--color=X`), before clap has parsed
/// them: for clap's own help and error messages.
pub fn flag_in(args: &[std::ffi::OsString]) -> Option<ColorChoice> {
    let mut found = None;
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let value = match word.strip_prefix("--color") {
            Some("") => words.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => None,
        };
        if let Some(choice) = value.and_then(|v| ColorChoice::from_str(&v, false).ok()) {
            found = Some(choice);
        }
    }
    found
}

/// The run's decision, set once from the command line.
static COLORS: OnceLock<Colors> = OnceLock::new();

/// Records the run's decision (the first call wins).
pub fn set(colors: Colors) {
    let _ = COLORS.set(colors);
}

/// The run's decision: what [`set`] recorded, else `auto` in the process environment.
pub fn get() -> Colors {
    *COLORS.get_or_init(|| Colors::from_env(ColorChoice::Auto))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_and_the_flag_combine_as_documented() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        let auto = |nc| Colors::new(ColorChoice::Auto, nc);
        assert!(auto(None).for_terminal(true));
        assert!(!auto(None).for_terminal(false), "auto: only on a terminal");
        assert!(!auto(set).for_terminal(true), "NO_COLOR turns auto off");
        assert!(
            auto(empty).for_terminal(true),
            "an empty NO_COLOR does not count"
        );
        assert!(
            Colors::new(ColorChoice::Always, set).for_terminal(false),
            "always wins"
        );
        assert!(!Colors::new(ColorChoice::Never, None).for_terminal(true));
        assert!(Colors::new(ColorChoice::Always, None).fancy(false));
        assert!(!auto(None).fancy(false));
    }

    #[test]
    fn the_flag_is_found_before_clap_parses() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(flag_in(&args(&["scimsync", "plan"])), None);
        assert_eq!(
            flag_in(&args(&["scimsync", "--color", "never", "plan"])),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            flag_in(&args(&["scimsync", "plan", "--color=always"])),
            Some(ColorChoice::Always)
        );
        assert_eq!(flag_in(&args(&["scimsync", "--color", "purple"])), None);
        assert_eq!(
            flag_in(&args(&["scimsync", "--", "--color", "never"])),
            None
        );
    }
}
