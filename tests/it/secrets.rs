//! Nothing leaked: a Slack token pasted where its *name* or *path* belongs, or a token file
//! listed as a source by mistake, never reaches the output — on a terminal or not, in text or
//! JSON logs.

const TOKEN: &str = "xoxp-1234567890-0987654321-abcdefABCDEF";

fn scimsync(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    crate::harness::run(dir, args, env).text()
}

fn assert_no_token(text: &str) {
    assert!(!text.contains("1234567890"), "the token leaked:\n{text}");
    assert!(!text.contains("abcdefABCDEF"), "the token leaked:\n{text}");
}

#[test]
fn a_token_pasted_as_a_name_or_a_path_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: a@example.com}\n",
    )
    .unwrap();
    for (key, what) in [("token_env", "name"), ("token_file", "path")] {
        std::fs::write(
            dir.path().join("scimsync.yaml"),
            format!(
                "target: {{url: \"https://api.slack.com/scim/v2/\", {key}: {TOKEN}}}\nsources:\n  - yaml: people.yaml\n"
            ),
        )
        .unwrap();
        for args in [
            &["validate", "--config", "scimsync.yaml"][..],
            &["plan", "--config", "scimsync.yaml"],
            &["apply", "--config", "scimsync.yaml", "--log-format", "json"],
        ] {
            let text = scimsync(dir.path(), args, &[]);
            assert!(
                text.contains("xoxp-[redacted]") || text.contains("error"),
                "{what}: {text}"
            );
            assert_no_token(&text);
        }
    }
    // The same through the environment overrides.
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        "target: {url: \"https://api.slack.com/scim/v2/\", token_env: SLACK_TOKEN}\nsources:\n  - yaml: people.yaml\n",
    )
    .unwrap();
    for var in ["SCIMSYNC_TOKEN_ENV", "SCIMSYNC_TOKEN_FILE"] {
        for args in [
            &["validate", "--config", "scimsync.yaml"][..],
            &["plan", "--config", "scimsync.yaml"],
        ] {
            assert_no_token(&scimsync(dir.path(), args, &[(var, TOKEN)]));
        }
    }
}

#[test]
fn a_token_file_listed_as_a_source_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    for source in [
        "  - yaml: token\n",
        "  - csv: token\n    columns: {email: Email}\n",
    ] {
        std::fs::write(
            dir.path().join("scimsync.yaml"),
            format!("target: {{url: embedded}}\nsources:\n{source}"),
        )
        .unwrap();
        for args in [
            &["validate", "--config", "scimsync.yaml"][..],
            &["plan", "--config", "scimsync.yaml", "--log-format", "json"],
        ] {
            let text = scimsync(dir.path(), args, &[]);
            assert!(text.contains("token"), "names the file: {text}");
            assert_no_token(&text);
        }
    }
}
