//! One pass's I/O around the pure planner: load the config and every source, connect to
//! Slack (or start the embedded emulator), list the live state. `plan`, `apply`, `dump` and
//! the daemon share it. Errors are typed; only the CLI renders them.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use crate::config::{Config, ConfigError, Endpoint, EnvOverrides, TokenSource};
use crate::directory::{self, DirectoryError, LoadOptions, LoadedDirectory};
use crate::emulator::{Emulator, EmulatorConfig, SeedError, Store};
use crate::scim::live::LiveState;
use crate::scim::token::TokenError;
use crate::scim::{ScimClient, ScimError, Token, Version};

/// How long one SCIM request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("{0}")]
    Config(ConfigError),
    #[error("{0}")]
    Directory(DirectoryError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot reach Slack: {0}")]
    Scim(#[from] ScimError),
    #[error("embedded emulator: {0}")]
    Seed(#[from] SeedError),
    #[error("embedded emulator: {0}")]
    Emulator(std::io::Error),
}

pub fn load_config(path: &Path) -> Result<Config, PassError> {
    Config::load(path, &EnvOverrides::from_process_env()).map_err(PassError::Config)
}

pub fn load_directory(config: &Config, today: NaiveDate) -> Result<LoadedDirectory, PassError> {
    directory::load(
        &config.sources,
        &LoadOptions {
            invalid_users: config.invalid_users,
            today,
        },
    )
    .map_err(PassError::Directory)
}

/// A connection to the target: the client, and the embedded emulator when there is one.
pub struct Connection {
    pub client: ScimClient,
    embedded: Option<Emulator>,
}

impl Connection {
    pub async fn open(config: &Config) -> Result<Connection, PassError> {
        let version = match config.target.version {
            crate::config::ScimVersion::V1 => Version::V1,
            crate::config::ScimVersion::V2 => Version::V2,
        };
        match &config.target.endpoint {
            Endpoint::Url(url) => {
                let token = match &config.target.token {
                    Some(TokenSource::Env(name)) => Token::from_env(name)?,
                    Some(TokenSource::File(path)) => Token::from_file(path)?,
                    None => return Err(TokenError::EnvMissing("(no token source)".into()).into()),
                };
                let client = ScimClient::new(url.as_str(), Some(version), token, REQUEST_TIMEOUT)?;
                Ok(Connection {
                    client,
                    embedded: None,
                })
            }
            Endpoint::Embedded => {
                let state = config.target.emulator_state.as_deref();
                let store = match (state, config.target.emulator_seed.as_deref()) {
                    (Some(s), _) if s.exists() => Store::load(s, 'U', 1)?,
                    (_, Some(seed)) => Store::load(seed, 'U', 1)?,
                    _ => Store::default_org('U', 1),
                };
                // A fresh token per process: nothing outside this process can use the emulator.
                let secret = format!("xoxp-embedded-{:016x}", fastrand::u64(..));
                let emulator = Emulator::start(
                    EmulatorConfig {
                        token: secret.clone(),
                        rate_limit_scale: Some(1.0),
                        persist: state.map(Path::to_path_buf),
                        ..EmulatorConfig::default()
                    },
                    store,
                    "127.0.0.1:0".parse().expect("a loopback address"),
                )
                .await
                .map_err(PassError::Emulator)?;
                let client = ScimClient::new(
                    &emulator.base_url(version),
                    Some(version),
                    Token::new(secret)?,
                    REQUEST_TIMEOUT,
                )?;
                Ok(Connection {
                    client,
                    embedded: Some(emulator),
                })
            }
        }
    }

    /// Lists every user and group. All or nothing.
    pub async fn read_live(&self) -> Result<LiveState, PassError> {
        let users = self.client.list_users().await?;
        let groups = self.client.list_groups().await?;
        Ok(LiveState::from_scim(&users, &groups))
    }

    /// Ends the connection; the embedded emulator saves its state.
    pub async fn close(self) -> Result<(), PassError> {
        match self.embedded {
            Some(e) => e.shutdown().await.map_err(PassError::Emulator),
            None => Ok(()),
        }
    }
}
