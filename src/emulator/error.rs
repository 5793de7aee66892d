//! Slack's error answers: a status and a description whose leading token is the error code.

use serde_json::{Value, json};

use crate::scim::Version;
use crate::scim::types::urn;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// `code` or `code (context)`, as Slack writes it.
    pub description: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str) -> ApiError {
        ApiError {
            status,
            description: code.to_string(),
        }
    }

    /// `code (context)`, Slack's way of adding detail (FACTS TL;DR 10).
    pub fn with(status: u16, code: &str, context: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            description: format!("{code} ({context})"),
        }
    }

    pub fn bad_request(code: &str) -> ApiError {
        ApiError::new(400, code)
    }

    pub fn payload(context: impl std::fmt::Display) -> ApiError {
        ApiError::with(400, "invalid_request_payload", context)
    }

    /// The body for this error in the dialect of the request. Auth errors use the v1 shape on
    /// both versions, as Slack's own v2 tests observe (FACTS §6.2).
    pub fn body(&self, version: Version) -> Value {
        if version == Version::V1 || self.status == 401 {
            json!({"Errors": {"description": self.description, "code": self.status}})
        } else {
            json!({"schemas": [urn::ERROR_V2], "detail": self.description, "status": self.status})
        }
    }
}

/// Slack requires `schemas` in every write body (`missing_schema_element`, FACTS TL;DR 18).
pub fn require_schemas(body: &Value) -> Result<(), ApiError> {
    match body.get("schemas") {
        Some(Value::Array(a)) if !a.is_empty() => Ok(()),
        _ => Err(ApiError::bad_request("missing_schema_element")),
    }
}
