//! scimsync keeps a Slack organisation's people and groups equal to a declared directory.
//!
//! The pipeline (see `DESIGN.md`): sources → [`directory`] (desired) and Slack → live state,
//! a pure plan, guards, and a rate-limited apply. [`emulator`] is a Slack-faithful SCIM
//! server used by every test and by `target.url: embedded`.

pub mod apply;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod directory;
pub mod emulator;
pub mod exit;
pub mod files;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod pass;
pub mod plan;
pub mod scim;
pub mod shutdown;
pub mod slack_rules;
pub mod validate;
