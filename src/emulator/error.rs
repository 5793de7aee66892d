//! Slack's error answers: a status and a description whose leading token is the error code.
//!
//! Every error the emulator sends is built here from a [`ErrorCode`], so the emulator cannot
//! answer with a code Slack does not document (FACTS §6.4), and the body takes the shape of the
//! request's dialect.

use serde_json::{Value, json};

use crate::scim::types::urn;
use crate::scim::{ErrorCode, Version};

/// An error answer: the HTTP status, the code and Slack's `description` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The error code, the leading token of `description`.
    pub code: ErrorCode,
    /// `code` or `code (context)`, as Slack writes it.
    pub description: String,
}

impl ApiError {
    /// The bare code, e.g. `ApiError::new(409, ErrorCode::EmailTaken)`.
    pub fn new(status: u16, code: ErrorCode) -> ApiError {
        ApiError {
            status,
            code,
            description: code.as_str().to_string(),
        }
    }

    /// `code (context)`, Slack's way of adding detail (FACTS TL;DR 10).
    pub fn with(status: u16, code: ErrorCode, context: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            code,
            description: format!("{code} ({context})"),
        }
    }

    /// A 400 with the bare code.
    pub fn bad_request(code: ErrorCode) -> ApiError {
        ApiError::new(400, code)
    }

    /// A 400 `invalid_request_payload` saying what is wrong with the body.
    pub fn payload(context: impl std::fmt::Display) -> ApiError {
        ApiError::with(400, ErrorCode::InvalidRequestPayload, context)
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
        _ => Err(ApiError::bad_request(ErrorCode::MissingSchemaElement)),
    }
}

/// A filter Slack refuses is a 400 with the filter's code (`no_filters (is_aggregate_call=1)`).
impl From<super::filter::FilterError> for ApiError {
    fn from(e: super::filter::FilterError) -> ApiError {
        ApiError::with(400, e.code, e.detail)
    }
}
