//! The connection to the target: a rate-limited, retrying SCIM client, and the embedded
//! emulator when the target is `embedded`.

use std::path::Path;
use std::sync::Arc;

use super::{PassError, REQUEST_TIMEOUT};
use crate::config::{Config, ScimServer, TokenSource};
use crate::emulator::{Emulator, EmulatorConfig, Store};
use crate::model::{LiveGroup, LiveState, LiveUser};
use crate::plan::seal::SealKey;
use crate::scim::caller::Caller;
use crate::scim::observe::RequestObserver;
use crate::scim::token::TokenError;
use crate::scim::{ScimClient, Token};

/// A connection to the target: the client, and the embedded emulator when there is one.
pub struct Connection {
    /// Rate-limited and retrying, within the configured share of Slack's budget.
    pub caller: Caller,
    embedded: Option<Emulator>,
}

impl Connection {
    /// Connects to `config.target`: a client for its URL with its token, or, for `embedded`,
    /// a fresh emulator on a loopback port (loaded from its state or seed) with a token made
    /// for this process. Nothing is sent yet.
    pub async fn open(config: &Config) -> Result<Connection, PassError> {
        let version = config.target.version;
        match &config.target.server {
            ScimServer::Url(url) => {
                let token = match &config.target.token {
                    Some(TokenSource::Env(name)) => Token::from_env(name)?,
                    Some(TokenSource::File(path)) => Token::from_file(path)?,
                    None => return Err(TokenError::EnvMissing("(no token source)".into()).into()),
                };
                let client = ScimClient::new(url.as_str(), Some(version), token, REQUEST_TIMEOUT)?;
                Ok(Connection {
                    caller: caller(client, config),
                    embedded: None,
                })
            }
            ScimServer::Embedded => {
                let state = config.target.emulator_state.as_deref();
                let store = match (state, config.target.emulator_seed.as_deref()) {
                    (Some(s), _) if s.exists() => Store::load(s, 'U', 1)?,
                    (_, Some(seed)) => Store::load(seed, 'U', 1)?,
                    _ => Store::default_org('U', 1),
                };
                // A fresh token per process: nothing outside this process can use the emulator.
                let secret = format!("xoxp-embedded-{:016x}", fastrand::u64(..));
                let settings = config
                    .target
                    .emulator
                    .settings()
                    .map_err(|e| PassError::Emulator(std::io::Error::other(e)))?;
                let emulator = Emulator::start(
                    EmulatorConfig {
                        token: secret.clone(),
                        rate_limit_scale: Some(config.rate_limit.time_scale),
                        persist: state.map(Path::to_path_buf),
                        ..settings
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
                    caller: caller(client, config),
                    embedded: Some(emulator),
                })
            }
        }
    }

    /// Opens the connection and lists the live state (closing it again if listing fails);
    /// `observer` is told about every request, the listing's included.
    pub async fn open_and_read(
        config: &Config,
        observer: Option<Arc<dyn RequestObserver>>,
    ) -> Result<(Connection, LiveState), PassError> {
        let mut connection = Connection::open(config).await?;
        connection.caller.observer = observer;
        match connection.read_live().await {
            Ok(live) => Ok((connection, live)),
            Err(e) => {
                let _ = connection.close().await;
                Err(e)
            }
        }
    }

    /// Lists every user and group, each page turned into the planner's records as it arrives
    /// (the same as [`LiveState::from_scim`] of the whole listing). All or nothing.
    pub async fn read_live(&self) -> Result<LiveState, PassError> {
        let caller = &self.caller;
        let users = caller.list_users_lean(LiveUser::from_lean).await?;
        let groups = caller.list_groups_lean(LiveGroup::from_lean).await?;
        Ok(LiveState { users, groups })
    }

    /// The organisation the token belongs to (Web API `auth.test`).
    pub async fn organisation(&self) -> Result<String, PassError> {
        Ok(self.caller.client.organisation().await?)
    }

    /// The key plans are sealed with: derived from the token for a real target; for the
    /// embedded emulator (whose token is made afresh by each process) from the state folder's
    /// secret, or, without a state, a key of this process only (its plans cannot be applied
    /// by another).
    pub fn seal_key(&self, state_secret: Option<&[u8]>) -> SealKey {
        match (&self.embedded, state_secret) {
            (None, _) => SealKey::new(&self.caller.client.plan_key()),
            (Some(_), Some(secret)) => SealKey::new(&crate::scim::client::plan_key_from(secret)),
            (Some(_), None) => {
                let mut secret = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                    .expect("the system's random source works");
                SealKey::new(&secret)
            }
        }
    }

    /// Ends the connection; the embedded emulator saves its state.
    pub async fn close(self) -> Result<(), PassError> {
        match self.embedded {
            Some(e) => e.shutdown().await.map_err(PassError::Emulator),
            None => Ok(()),
        }
    }
}

fn caller(client: ScimClient, config: &Config) -> Caller {
    Caller::new(
        Arc::new(client),
        config.rate_limit.share,
        config.rate_limit.time_scale,
    )
}
