//! The desired state.
