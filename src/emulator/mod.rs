//! A Slack-faithful SCIM server (v1 and v2 at once): the test bed of every test, the embedded
//! target of the quickstart (`target.url: embedded`), and a sandbox to rehearse a directory
//! against, since Slack has none. Behaviour follows `FACTS.md`; where Slack is ambiguous the
//! emulator offers both readings as a setting ([`GroupNames`], [`ProfileErrors`],
//! [`GroupFilters`], [`Parsing`], [`EmulatorConfig::read_lag`] with its [`LagScope`]). The
//! default settings are the kind ones, for tests of one behaviour at a time;
//! [`Preset::LikeSlack`] ([`EmulatorConfig::like_slack`]) is never kinder than Slack, so a
//! client that works under it is safe there.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use scimsync::emulator::{Emulator, EmulatorConfig, Store};
//! let emu = Emulator::start(EmulatorConfig::default(), Store::default_org('U', 1),
//!                           "127.0.0.1:0".parse().unwrap()).await?;
//! println!("{}", emu.base_url(scimsync::scim::Version::V2)); // http://127.0.0.1:…/scim/v2/
//! # Ok(()) }
//! ```

mod error;
pub mod filter;
mod groups;
mod lag;
mod limiter;
mod page;
mod policy;
mod reads;
mod render;
mod server;
mod site;
mod store;
mod strict;
mod users;

pub use error::ApiError;
pub use policy::{
    AddressReading, DEFAULT_CHANNELS, GroupFilters, GroupNames, InvalidValue, LagScope, Parsing,
    PhotoReading, ProfileErrors, ProfileUrlReading, RoleReading, TokenRole, read_channels,
};
pub use server::{
    Emulator, EmulatorConfig, Faults, LIKE_SLACK_FAULT_RATE, LIKE_SLACK_READ_LAG, Preset, Stats,
};
pub use store::{
    Role, SeedError, Snapshot, Store, StoredAddress, StoredGroup, StoredGuest, StoredUser,
};
