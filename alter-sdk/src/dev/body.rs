//! Typed reads of JSON request bodies, with a 400 response naming the field that is wrong.

use serde_json::{Map, Value};

use super::errors::ApiError;

/// A request body that parsed as a JSON object.
#[derive(Debug)]
pub(super) struct JsonObject(Map<String, Value>);

impl JsonObject {
    /// Parses `bytes` as a JSON object.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.is_empty() {
            return Err(ApiError::invalid_request(
                "the request body is empty; send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ApiError::invalid_request(format!(
                "the request body is a JSON {}; send a JSON object",
                kind(&other)
            ))),
            Err(error) => Err(ApiError::invalid_request(format!(
                "the request body is not valid JSON: {error}"
            ))),
        }
    }

    /// Returns the raw value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Returns the object itself.
    pub(super) fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// Reads a string that must be present and non-empty.
    pub(super) fn required_str(&self, key: &str) -> Result<&str, ApiError> {
        match self.0.get(key) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text),
            Some(Value::String(_)) => Err(empty(key)),
            None | Some(Value::Null) => {
                Err(ApiError::invalid_request(format!("missing field `{key}`")))
            }
            Some(other) => Err(wrong_type(key, "a string", other)),
        }
    }

    /// Reads a string that may be absent or null. An empty string counts as absent, because the
    /// SDK omits empty selectors rather than sending them.
    pub(super) fn optional_str(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_type(key, "a string or null", other)),
        }
    }

    /// Reads an object that may be absent or null.
    pub(super) fn optional_object(
        &self,
        key: &str,
    ) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(wrong_type(key, "an object or null", other)),
        }
    }

    /// Reads a boolean that may be absent or null.
    pub(super) fn optional_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(wrong_type(key, "a boolean or null", other)),
        }
    }

    /// Reads a list of non-empty strings that may be absent or null.
    pub(super) fn optional_str_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => str_list(key, value).map(Some),
        }
    }
}

/// Reads `value` as a list of non-empty strings; `field` names it in the error.
pub(super) fn str_list(field: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(wrong_type(field, "a list of strings", value));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
            Value::String(_) => Err(empty(&format!("{field}[{index}]"))),
            other => Err(wrong_type(&format!("{field}[{index}]"), "a string", other)),
        })
        .collect()
}

/// Builds the 400 error for a field of the wrong JSON type.
pub(super) fn wrong_type(field: &str, expected: &str, found: &Value) -> ApiError {
    ApiError::invalid_request(format!(
        "field `{field}` must be {expected}, not {}",
        kind(found)
    ))
}

fn empty(field: &str) -> ApiError {
    ApiError::invalid_request(format!("field `{field}` must not be empty"))
}

/// Names the JSON type of `value` for an error message.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_non_objects() {
        for body in [&b""[..], b"[]", b"\"x\"", b"{", b"null"] {
            let error = JsonObject::parse(body).unwrap_err();
            assert_eq!(
                error.status(),
                axum::http::StatusCode::BAD_REQUEST,
                "{body:?}"
            );
            assert_eq!(error.code(), "invalid_request", "{body:?}");
        }
    }

    #[test]
    fn required_str_rejects_missing_empty_and_wrong_type() {
        let object = JsonObject::parse(br#"{"empty":"","number":3,"ok":"v"}"#).unwrap();
        assert_eq!(object.required_str("ok").unwrap(), "v");
        for key in ["missing", "empty", "number"] {
            let error = object.required_str(key).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST, "{key}");
        }
    }

    #[test]
    fn optional_str_treats_empty_as_absent() {
        let object = JsonObject::parse(br#"{"empty":"","null":null,"list":[]}"#).unwrap();
        assert_eq!(object.optional_str("empty").unwrap(), None);
        assert_eq!(object.optional_str("null").unwrap(), None);
        assert_eq!(object.optional_str("absent").unwrap(), None);
        assert!(object.optional_str("list").is_err());
    }

    #[test]
    fn str_list_names_bad_entry() {
        let object = JsonObject::parse(br#"{"ids":["a"," ",3]}"#).unwrap();
        let error = object.optional_str_list("ids").unwrap_err();
        assert_eq!(error.code(), "invalid_request");
    }
}
