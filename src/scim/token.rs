//! The SCIM token: read from an environment variable or a file, held so that it cannot be
//! printed. `Debug` shows `[redacted]`, there is no `Display`, `Serialize` or `Clone`-to-string,
//! and the only way to the text is [`Token::expose`], used once: to build the `Authorization`
//! header (marked sensitive, so reqwest and hyper never log it).

use std::path::{Path, PathBuf};

/// A SCIM bearer token: trimmed, non-empty printable ASCII (valid in a header), and never
/// printed.
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// Why no token could be had. Names where the token was looked for, never its value.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The named environment variable is unset (or not UTF-8).
    #[error("the environment variable {0} holding the SCIM token is not set")]
    EnvMissing(String),
    /// The named environment variable holds only whitespace.
    #[error("the environment variable {0} holding the SCIM token is empty")]
    EnvEmpty(String),
    /// The token file could not be read.
    #[error("cannot read the SCIM token file {path}: {source}")]
    File {
        /// The token file.
        path: PathBuf,
        /// Why it could not be read (or is not a regular file of data).
        source: crate::diag::data_file::DataFileError,
    },
    /// The token file holds only whitespace.
    #[error("the SCIM token file {0} is empty")]
    FileEmpty(PathBuf),
    /// The token is empty or has control or non-ASCII characters.
    #[error("the SCIM token contains characters not allowed in an HTTP header")]
    NotAHeader,
}

impl Token {
    /// Wraps a token given in code (tests, the embedded emulator).
    pub fn new(token: impl Into<String>) -> Result<Token, TokenError> {
        let token = token.into().trim().to_string();
        if token.is_empty() || token.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(TokenError::NotAHeader);
        }
        Ok(Token(token))
    }

    /// Reads the token from the environment variable `name`; surrounding whitespace is
    /// ignored.
    pub fn from_env(name: &str) -> Result<Token, TokenError> {
        match std::env::var(name) {
            Ok(v) if v.trim().is_empty() => Err(TokenError::EnvEmpty(name.into())),
            Ok(v) => Token::new(v),
            Err(_) => Err(TokenError::EnvMissing(name.into())),
        }
    }

    /// Reads a token file (a Kubernetes secret, a systemd credential); surrounding whitespace
    /// and a trailing newline are ignored. Like a source, it must be a regular file of data
    /// ([`read_data_file`](crate::diag::data_file::read_data_file)): a FIFO named as the token file
    /// never hangs the run, and `/proc/self/environ` is never sent as a token.
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let bytes =
            crate::diag::data_file::read_data_file(path).map_err(|source| TokenError::File {
                path: path.to_path_buf(),
                source,
            })?;
        let text = String::from_utf8(bytes).map_err(|_| TokenError::NotAHeader)?;
        if text.trim().is_empty() {
            return Err(TokenError::FileEmpty(path.to_path_buf()));
        }
        Token::new(text)
    }

    /// The `Authorization` header value, flagged sensitive.
    pub(crate) fn header(&self) -> reqwest::header::HeaderValue {
        let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.0))
            .expect("checked in Token::new");
        v.set_sensitive(true);
        v
    }

    /// The secret itself. Only for handing to another process that needs it (the embedded
    /// emulator's accepted token); never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let t = Token::new("xoxp-very-secret").unwrap();
        assert_eq!(format!("{t:?}"), "Token([redacted])");
        assert!(t.header().is_sensitive());
    }

    #[test]
    fn file_tokens_are_trimmed_and_errors_name_the_source_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "xoxp-abc\n").unwrap();
        assert_eq!(Token::from_file(&f).unwrap().expose(), "xoxp-abc");
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            Token::from_file(&f),
            Err(TokenError::FileEmpty(_))
        ));
        // Not a file of data: refused by what it is, never read (nor waited on).
        assert!(
            Token::from_file(Path::new("/proc/self/environ"))
                .unwrap_err()
                .to_string()
                .contains("under /proc")
        );
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(
            Token::from_file(&fifo)
                .unwrap_err()
                .to_string()
                .contains("FIFO")
        );
        let err = Token::from_env("SCIMSYNC_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(err.to_string().contains("SCIMSYNC_TEST_SURELY_UNSET_VAR"));
        assert!(Token::new("bad\ntoken").is_err());
    }
}
