//! The desired state.

mod model;

pub use model::*;
