//! Shell completions and the manual page, both generated from the command-line definition
//! ([`super::Cli`]) so that they can never disagree with `--help`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::Cli;

/// The completion script for `shell`: `scimsync completions bash > /etc/bash_completion.d/scimsync`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "scimsync", &mut out);
    out
}

/// `scimsync(1)` in roff: the synopsis, every global option and every subcommand (with its
/// own options), the environment and the exit codes.
pub fn man_page() -> Vec<u8> {
    let mut command = Cli::command();
    command.build();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut list = Vec::new();
    let _ = man.render_subcommands_section(&mut list);
    // clap_mangen points at one page per subcommand; here they are sections of this page.
    let mut list = String::from_utf8_lossy(&list).into_owned();
    for sub in command.get_subcommands() {
        let page = format!("scimsync\\-{}(1)", sub.get_name());
        list = list.replace(&page, &format!("\\fBscimsync {}\\fR", sub.get_name()));
    }
    out.extend_from_slice(list.as_bytes());
    // Unbuilt, the subcommands do not repeat the global options.
    let root = Cli::command();
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_section(&mut out, &root, sub);
    }
    out.extend_from_slice(ENVIRONMENT_AND_EXIT.as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

/// One `scimsync SUB` section: its synopsis line, its description and its options, taken
/// from the subcommand's own page.
fn subcommand_section(out: &mut Vec<u8>, root: &clap::Command, sub: &clap::Command) {
    let name = format!("{} {}", root.get_name(), sub.get_name());
    let page = sub.clone().bin_name(name);
    let man = clap_mangen::Man::new(page);
    let _ = writeln!(out, ".SH \"SCIMSYNC {}\"", sub.get_name().to_uppercase());
    let mut section = Vec::new();
    let _ = man.render_synopsis_section(&mut section);
    let _ = man.render_description_section(&mut section);
    let _ = man.render_options_section(&mut section);
    // The subcommand's own ".SH" headings become sub-headings of its section.
    let text = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
    out.extend_from_slice(text.as_bytes());
}

/// The sections clap does not know: environment variables and exit codes (README, "Exit
/// codes"; `src/exit.rs`).
const ENVIRONMENT_AND_EXIT: &str = r#".SH ENVIRONMENT
.TP
\fBSCIMSYNC_CONFIG\fR
The config file, wherever \fB\-\-config\fR is taken (the flag wins).
.TP
\fBSCIMSYNC_TARGET_URL\fR
Pins the SCIM target: it is the target, and a config whose \fItarget.url\fR differs is refused
(\fBembedded\fR runs against the built\-in emulator whatever the file says).
.TP
\fBSCIMSYNC_TARGET_VERSION\fR, \fBSCIMSYNC_TOKEN_ENV\fR, \fBSCIMSYNC_TOKEN_FILE\fR
Replace \fItarget.version\fR and the token source.
.TP
\fBNO_COLOR\fR
A non\-empty value turns colour off unless \fB\-\-color always\fR.
.TP
\fBSCIMSYNC_LOG\fR
Which log lines are written (e.g. \fBinfo\fR, \fBscimsync=debug\fR).
.SH "EXIT STATUS"
.TP
\fB0\fR
Success; in sync, or everything applied.
.TP
\fB1\fR
Error: configuration, a source, authentication, network.
.TP
\fB2\fR
\fBplan \-\-detailed\-exitcode\fR: changes are pending.
.TP
\fB3\fR
\fBapply\fR: a safety guard tripped; nothing was written. \fBplan \-\-detailed\-exitcode\fR: \fBapply\fR would trip one.
.TP
\fB4\fR
\fBapply\fR: partial; some changes failed or were skipped, or Slack cannot be made equal to the directory (conflicts, rows skipped as invalid, stuck ops held back); the rest applied.
.TP
\fB5\fR
\fBplan \-\-detailed\-exitcode\fR: Slack cannot be made equal to the directory: conflicts, rows skipped as invalid, stuck ops held back.
.TP
\fB6\fR
\fBapply\fR on a terminal: the confirmation was not answered \fByes\fR; nothing was written.
.TP
\fB64\fR
Usage error on the command line.
.TP
\fB129\fR
\fBapply\fR stopped by SIGHUP (its terminal closed): no change started after it, those in
flight finished, what applied was printed. (\fBrun\fR takes SIGHUP as "reload the config and
reconcile now".)
.TP
\fB130\fR
\fBapply\fR interrupted by SIGINT (Ctrl\-C), as for 129; \fBrun\fR: aborted by a second
signal.
.TP
\fB143\fR
\fBapply\fR stopped by SIGTERM, as for 129.
"#;

/// `scimsync man --out-dir DIR`: writes `scimsync.1` into `dir`.
pub fn write_man_page(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("scimsync.1");
    std::fs::write(&path, man_page())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap's own checks: no clashing names or short flags, valid defaults.
        Cli::command().debug_assert();
    }

    #[test]
    fn the_page_names_subcommands_as_sections_not_missing_pages() {
        let page = String::from_utf8(man_page()).unwrap();
        assert!(!page.contains(r"scimsync\-plan(1)"), "no page of its own");
        assert!(page.contains(r"\fBscimsync plan\fR"));
        assert!(page.contains(".SH \"SCIMSYNC PLAN\""));
        // Subcommand sections do not repeat the global options.
        let plan = &page[page.find(".SH \"SCIMSYNC PLAN\"").unwrap()..];
        let plan = &plan[..plan.find(".SH \"SCIMSYNC APPLY\"").unwrap()];
        assert!(!plan.contains("log\\-format"), "{plan}");
    }
}
