//! What [`Parsing::Strict`] adds to a write before it is handled: the checks FACTS documents
//! but a lenient server (and the emulator by default) lets pass — a body sent as
//! `application/json` (FACTS §1.2), every URN in `schemas` one Slack uses (FACTS §2.1), and an
//! extension object only with its URN in `schemas` ("the extension URNs must be listed in the
//! request `schemas` array when the extension object is sent", FACTS §2.1). A client that
//! passes here does not lean on a leniency Slack may not have.
//!
//! [`Parsing::Strict`]: super::Parsing::Strict

use serde_json::Value;

use super::error::ApiError;
use crate::scim::ErrorCode;
use crate::scim::types::urn;

/// Every URN a write body may name (both dialects: the Python SDK adds the v1 core URN to any
/// body that lacks `schemas`).
const KNOWN_URNS: &[&str] = &[
    urn::CORE_V1,
    urn::ENTERPRISE_V1,
    urn::GUEST_V1,
    urn::PROFILE_V1,
    urn::USER_V2,
    urn::GROUP_V2,
    urn::ENTERPRISE_V2,
    urn::GUEST_V2,
    urn::PROFILE_V2,
    urn::DIRECTORY_V2,
    urn::PATCH_OP_V2,
];

/// Checks a write's `Content-Type` and body (`None`: no header sent).
pub fn check_write(content_type: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    if body.is_empty() {
        return Ok(());
    }
    check_content_type(content_type)?;
    // Malformed JSON is the handler's to report, in its own words.
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => check_urns(&value),
        Err(_) => Ok(()),
    }
}

/// A body is JSON, said so: `application/json`, parameters (`; charset=utf-8`) allowed.
fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let media = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        let sent = if media.is_empty() { "none" } else { media };
        Err(ApiError::payload(format!(
            "content-type {sent}: a body is sent as application/json"
        )))
    }
}

/// Every URN in `schemas` is known, and every extension object's URN is in `schemas`.
fn check_urns(body: &Value) -> Result<(), ApiError> {
    let schemas: Vec<&str> = body
        .get("schemas")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(unknown) = schemas.iter().find(|s| !KNOWN_URNS.contains(s)) {
        return Err(ApiError::payload(format!("unknown schema {unknown}")));
    }
    let Some(object) = body.as_object() else {
        return Ok(());
    };
    for key in object.keys().filter(|k| k.starts_with("urn:")) {
        if !KNOWN_URNS.contains(&key.as_str()) {
            return Err(ApiError::payload(format!("unknown extension {key}")));
        }
        if !schemas.contains(&key.as_str()) {
            return Err(ApiError::with(
                400,
                ErrorCode::MissingSchemaElement,
                format!("{key} is sent but not listed in schemas"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(content_type: &str, body: &str) -> Result<(), String> {
        check_write(Some(content_type), body.as_bytes()).map_err(|e| e.description)
    }

    #[test]
    fn json_with_or_without_a_charset_passes_and_text_plain_does_not() {
        let body = r#"{"schemas":["urn:scim:schemas:core:1.0"]}"#;
        assert_eq!(check("application/json", body), Ok(()));
        assert_eq!(check("Application/JSON; charset=utf-8", body), Ok(()));
        let e = check("text/plain", body).unwrap_err();
        assert!(
            e.starts_with("invalid_request_payload") && e.contains("text/plain"),
            "{e}"
        );
        assert!(check_write(None, body.as_bytes()).is_err());
        assert_eq!(check_write(None, b""), Ok(()), "a DELETE has no body");
    }

    #[test]
    fn an_extension_object_needs_its_urn_in_schemas() {
        let listed = r#"{"schemas":["urn:scim:schemas:core:1.0","urn:scim:schemas:extension:enterprise:1.0"],
            "urn:scim:schemas:extension:enterprise:1.0":{"department":"Eng"}}"#;
        assert_eq!(check("application/json", listed), Ok(()));
        let unlisted = r#"{"schemas":["urn:scim:schemas:core:1.0"],
            "urn:scim:schemas:extension:enterprise:1.0":{"department":"Eng"}}"#;
        let e = check("application/json", unlisted).unwrap_err();
        assert!(e.starts_with("missing_schema_element"), "{e}");
    }

    #[test]
    fn unknown_urns_are_refused_in_schemas_and_as_keys() {
        let in_schemas = r#"{"schemas":["urn:scim:schemas:core:1.0","urn:example:made:up"]}"#;
        assert!(
            check("application/json", in_schemas)
                .unwrap_err()
                .contains("urn:example")
        );
        let as_key = r#"{"schemas":["urn:scim:schemas:core:1.0","urn:x"],"urn:x":{}}"#;
        assert!(check("application/json", as_key).is_err());
    }
}
