//! URL-encoded query strings and form bodies.

use std::collections::HashMap;

use axum::http::Uri;
use url::form_urlencoded;

/// Parses `application/x-www-form-urlencoded` bytes; the first value of a repeated name wins.
pub(super) fn parse(bytes: &[u8]) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(bytes) {
        params
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    params
}

/// Parses the query string of `uri`.
pub(super) fn query(uri: &Uri) -> HashMap<String, String> {
    parse(uri.query().unwrap_or("").as_bytes())
}

/// Percent-encodes `text` for a query string or form body.
pub(super) fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins() {
        let params = parse(b"a=1&b=x+y&a=2");
        assert_eq!(params["a"], "1");
        assert_eq!(params["b"], "x y");
    }
}
