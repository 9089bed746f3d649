//! A lenient parser for the OAuth 2.0 Bearer challenge (RFC 6750) in a provider's
//! `WWW-Authenticate` header.
//!
//! The header must start with the scheme `Bearer`, in any case, followed by whitespace. Then
//! `key=value` and `key="quoted value"` parameters are read left to right, separated by commas.
//! Keys are lower-cased and backslash escapes are removed from quoted values. Parsing stops at
//! the first thing that is not `, next-param`, so the parameters of a later challenge in the
//! same header, such as `Basic realm="x"`, are never read.

/// The parameters of a Bearer challenge, in header order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    params: Vec<(String, String)>,
}

impl BearerChallenge {
    /// Returns the value of the parameter `name`, compared case-insensitively. When the header
    /// repeats a parameter, the last value wins.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the `error` parameter, e.g. `invalid_token` or `insufficient_scope`.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// Returns the `scope` parameter: space-separated scopes.
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// Returns the `scope` parameter split on whitespace, or `None` without a `scope`.
    pub fn scopes(&self) -> Option<Vec<&str>> {
        self.scope().map(|scope| scope.split_whitespace().collect())
    }

    /// Returns whether `error` is exactly `insufficient_scope`, the provider's signal that the
    /// token lacks scopes.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error() == Some("insufficient_scope")
    }

    /// Returns every parameter in header order, with lower-case keys.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// Parses the Bearer challenge at the start of a `WWW-Authenticate` header value.
///
/// Returns `None` when the header does not start with `Bearer` and whitespace. Malformed input
/// ends the parameter list instead of failing, so every parameter before it is kept.
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let header = header.trim_start_matches(is_whitespace);
    let scheme = header.get(..6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = &header[6..];
    if !rest.starts_with(is_whitespace) {
        return None;
    }

    let mut cursor = Cursor { rest };
    let mut params = Vec::new();
    while let Some(param) = cursor.param() {
        params.push(param);
        cursor.skip_whitespace();
        if !cursor.eat(',') {
            break;
        }
    }
    Some(BearerChallenge { params })
}

/// The unread part of the header.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// Reads `key=value` or `key="quoted"`, with optional whitespace around `=`.
    fn param(&mut self) -> Option<(String, String)> {
        self.skip_whitespace();
        let key = self.take_while(is_token_char);
        if key.is_empty() {
            return None;
        }
        self.skip_whitespace();
        if !self.eat('=') {
            return None;
        }
        self.skip_whitespace();
        let value = if self.eat('"') {
            self.quoted()?
        } else {
            let value = self.take_while(|c| !is_whitespace(c) && c != ',' && c != '"');
            if value.is_empty() {
                return None;
            }
            value.to_owned()
        };
        Some((key.to_ascii_lowercase(), value))
    }

    /// Reads the rest of a quoted string whose opening quote was consumed, removing backslash
    /// escapes. Returns `None` when the closing quote is missing.
    fn quoted(&mut self) -> Option<String> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[index + 1..];
                    return Some(value);
                }
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    }

    fn take_while(&mut self, predicate: impl Fn(char) -> bool) -> &'a str {
        let end = self.rest.find(|c| !predicate(c)).unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    fn eat(&mut self, expected: char) -> bool {
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start_matches(is_whitespace);
    }
}

fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Returns whether `c` may appear in an HTTP token (RFC 9110 `tchar`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn params(header: &str) -> Vec<(String, String)> {
        parse_bearer_challenge(header)
            .unwrap_or_else(|| panic!("not a Bearer challenge: {header:?}"))
            .params()
            .to_vec()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn insufficient_scope_challenge() {
        let challenge = parse_bearer_challenge(
            r#"Bearer realm="x", error="insufficient_scope", scope="gmail.send gmail.modify""#,
        )
        .unwrap();
        assert_eq!(challenge.param("realm"), Some("x"));
        assert_eq!(challenge.error(), Some("insufficient_scope"));
        assert!(challenge.is_insufficient_scope());
        assert_eq!(challenge.scope(), Some("gmail.send gmail.modify"));
        assert_eq!(challenge.scopes(), Some(vec!["gmail.send", "gmail.modify"]));
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for header in [
            "bearer error=x",
            "BEARER error=x",
            "BeArEr\terror=x",
            "  Bearer error=x",
        ] {
            assert_eq!(params(header), pairs(&[("error", "x")]), "{header:?}");
        }
    }

    #[test]
    fn other_schemes_are_not_read() {
        for header in [
            "",
            "Bearer",
            "Bearerx error=y",
            "Basic realm=\"x\"",
            "Basic realm=\"x\", Bearer error=\"y\"",
            "Bear",
            "B\u{e9}arer x=y",
        ] {
            assert_eq!(parse_bearer_challenge(header), None, "{header:?}");
        }
    }

    #[test]
    fn scheme_without_params() {
        assert_eq!(params("Bearer "), pairs(&[]));
        let challenge = parse_bearer_challenge("Bearer  ").unwrap();
        assert_eq!(challenge.error(), None);
        assert_eq!(challenge.scopes(), None);
    }

    #[test]
    fn keys_lower_cased_and_looked_up_case_insensitively() {
        let challenge = parse_bearer_challenge("Bearer Error=invalid_token").unwrap();
        assert_eq!(challenge.params(), pairs(&[("error", "invalid_token")]));
        assert_eq!(challenge.param("ERROR"), Some("invalid_token"));
    }

    #[test]
    fn error_value_is_case_sensitive() {
        let challenge = parse_bearer_challenge("Bearer error=Insufficient_Scope").unwrap();
        assert!(!challenge.is_insufficient_scope());
    }

    #[test]
    fn quoted_escapes_removed() {
        assert_eq!(
            params(r#"Bearer error_description="say \"hi\" \\ now", error=x"#),
            pairs(&[("error_description", r#"say "hi" \ now"#), ("error", "x")])
        );
        assert_eq!(params(r#"Bearer a="a,b c""#), pairs(&[("a", "a,b c")]));
        assert_eq!(params(r#"Bearer a="""#), pairs(&[("a", "")]));
    }

    #[test]
    fn whitespace_around_separators() {
        assert_eq!(
            params("Bearer  a = 1 ,b=\"2\"  ,  c=3  "),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn stops_at_next_challenge() {
        assert_eq!(
            params(r#"Bearer error="invalid_token", Basic realm="x""#),
            pairs(&[("error", "invalid_token")])
        );
        assert_eq!(
            params(r#"Bearer realm="a", error="b" Basic realm="x""#),
            pairs(&[("realm", "a"), ("error", "b")])
        );
    }

    #[test]
    fn stops_at_malformed_param() {
        let cases: [(&str, &[(&str, &str)]); 7] = [
            (r#"Bearer a=1, b"#, &[("a", "1")]),
            (r#"Bearer a=1, =2, c=3"#, &[("a", "1")]),
            (r#"Bearer a=1, b=, c=3"#, &[("a", "1")]),
            (r#"Bearer a=1, b="unterminated"#, &[("a", "1")]),
            (r#"Bearer a=1, b="ends in backslash\"#, &[("a", "1")]),
            (r#"Bearer a=1,, c=3"#, &[("a", "1")]),
            (r#"Bearer a=1; c=3"#, &[("a", "1;")]),
        ];
        for (header, expected) in cases {
            assert_eq!(params(header), pairs(expected), "{header:?}");
        }
    }

    #[test]
    fn repeated_param_last_wins() {
        let challenge = parse_bearer_challenge("Bearer error=a, error=b").unwrap();
        assert_eq!(challenge.error(), Some("b"));
        assert_eq!(challenge.params().len(), 2);
    }

    #[test]
    fn non_ascii_values_kept() {
        assert_eq!(
            params("Bearer realm=\"caf\u{e9}\", scope=\u{1F600}"),
            pairs(&[("realm", "caf\u{e9}"), ("scope", "\u{1F600}")])
        );
    }

    fn quote(value: &str) -> String {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    }

    proptest! {
        #[test]
        fn never_panics(header in ".{0,80}") {
            let _ = parse_bearer_challenge(&header);
            let _ = parse_bearer_challenge(&format!("Bearer {header}"));
        }

        #[test]
        fn quoted_params_roundtrip(
            entries in prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_-]{0,10}", ".{0,20}"), 0..6),
            separator in "[ \t]{0,2}",
        ) {
            let header = format!(
                "Bearer {}",
                entries
                    .iter()
                    .map(|(key, value)| format!("{key}={}", quote(value)))
                    .collect::<Vec<_>>()
                    .join(&format!(",{separator}"))
            );
            let expected: Vec<(String, String)> = entries
                .iter()
                .map(|(key, value)| (key.to_ascii_lowercase(), value.clone()))
                .collect();
            prop_assert_eq!(params(&header), expected);
        }

        #[test]
        fn token_params_roundtrip(
            entries in prop::collection::vec(("[a-z]{1,8}", "[a-zA-Z0-9._~+/=-]{1,16}"), 1..6),
        ) {
            let header = format!(
                "Bearer {}",
                entries
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            prop_assert_eq!(params(&header), entries);
        }
    }
}
