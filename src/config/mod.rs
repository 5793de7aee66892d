//! Configuration: what to sync (target, sources, policy).

pub mod diagnostics;
pub mod yaml;
