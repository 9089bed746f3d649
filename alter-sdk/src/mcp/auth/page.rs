//! The HTML pages of the authorization server: the sign-in bridge and the error pages of
//! `/authorize`.
//!
//! Every dynamic value is escaped for the context it lands in. HTML text and attribute values
//! get entity escapes. Values handed to the script are JSON inside a non-executable
//! `application/json` block, with `<`, `>`, `&`, U+2028 and U+2029 escaped as `\uXXXX` so that
//! no value can close the block. Each response carries a strict Content-Security-Policy whose
//! script and style nonce is fresh per response, and headers that forbid framing, caching and
//! referrers.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The pause between two polls of the bridge page, in milliseconds.
pub(super) const POLL_INTERVAL_MS: u64 = 2_000;
/// The pause before the page without scripts reloads itself, in seconds.
const RELOAD_SECONDS: u64 = 3;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;\
padding:0 1rem;line-height:1.5;color:#1d1d1f}h1{font-size:1.4rem}\
.error{color:#b3261e}.ok{color:#1e6b34}a.button{display:inline-block;padding:.5rem 1rem;\
border-radius:.4rem;background:#1d1d1f;color:#fff;text-decoration:none}";

/// The content of the bridge page while the user signs in.
pub(super) struct BridgePage<'a> {
    /// The client's registered name, so that the user sees which application requests access.
    pub(super) client_name: &'a str,
    /// The destination of the browser after the sign-in: the redirect URI without path and query.
    pub(super) return_to: &'a str,
    /// The backend's sign-in page.
    pub(super) sign_in_url: &'a str,
    /// The URL of this page, which the page without scripts reloads.
    pub(super) reload_url: &'a str,
    /// The JSON status endpoint the script polls.
    pub(super) poll_url: &'a str,
    /// How long the page keeps polling before it reports the sign-in expired.
    pub(super) remaining_ms: u64,
}

/// Renders the bridge page.
pub(super) fn bridge(page: &BridgePage<'_>) -> Response {
    let nonce = new_nonce();
    let data = serde_json::json!({
        "sign_in_url": page.sign_in_url,
        "poll_url": page.poll_url,
        "remaining_ms": page.remaining_ms,
        "poll_interval_ms": POLL_INTERVAL_MS,
    });
    let body = format!(
        concat!(
            r#"<h1>Sign in to continue</h1>"#,
            r#"<p><strong id="client">{client}</strong> asks to act as you. After you sign in, "#,
            r#"your browser returns to <code id="return-to">{return_to}</code>. Continue only "#,
            r#"if you started this from that application.</p>"#,
            r#"<p>Sign in in the window that opened, then come back here. "#,
            r#"This page continues to your application by itself.</p>"#,
            r#"<p><a class="button" id="sign-in" href="{href}" target="_blank" rel="noopener">"#,
            r#"Open the sign-in page</a></p>"#,
            r#"<p id="status" role="status">Waiting for you to sign in…</p>"#,
            r#"<noscript><p>Scripts are off: this page reloads every {reload} seconds "#,
            r#"and continues once you have signed in.</p></noscript>"#,
            r#"<script type="application/json" id="bridge-data">{data}</script>"#,
            r#"<script nonce="{nonce}">{script}</script>"#
        ),
        client = escape_html(page.client_name),
        return_to = escape_html(page.return_to),
        href = escape_html(page.sign_in_url),
        reload = RELOAD_SECONDS,
        data = json_for_script(&data),
        nonce = nonce,
        script = BRIDGE_SCRIPT,
    );
    let head = format!(
        r#"<noscript><meta http-equiv="refresh" content="{RELOAD_SECONDS};url={}"></noscript>"#,
        escape_html(page.reload_url)
    );
    render(StatusCode::OK, "Sign in", &head, &body, &nonce)
}

/// Renders a page with a heading, a message and an optional link.
pub(super) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let nonce = new_nonce();
    let class = if status.is_success() { "ok" } else { "error" };
    let mut body = format!(
        r#"<h1>{}</h1><p class="{class}">{}</p>"#,
        escape_html(title),
        escape_html(text)
    );
    if let Some((label, href)) = link {
        body.push_str(&format!(
            r#"<p><a class="button" href="{}">{}</a></p>"#,
            escape_html(href),
            escape_html(label)
        ));
    }
    render(status, title, "", &body, &nonce)
}

/// The script of the bridge page: it opens the sign-in page in a popup, polls the status
/// endpoint, and navigates to the application once the user signed in. It reads its inputs
/// from the JSON block, so it is the same text in every response.
const BRIDGE_SCRIPT: &str = r#"(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bridge-data").textContent);
  var status = document.getElementById("status");
  var deadline = Date.now() + data.remaining_ms;
  function show(text, kind) {
    status.textContent = text;
    status.className = kind;
  }
  var popup = window.open(data.sign_in_url, "alter-sign-in", "popup,width=480,height=680");
  if (popup) {
    popup.opener = null;
  }
  function again() {
    setTimeout(poll, data.poll_interval_ms);
  }
  function poll() {
    if (Date.now() >= deadline) {
      show("This sign-in expired. Start again from your application.", "error");
      return;
    }
    fetch(data.poll_url, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.status === "completed") {
          show("Signed in. Returning to your application…", "ok");
          window.location.replace(body.redirect_url);
        } else if (body.status === "error") {
          show("Sign-in failed: " + body.error_message, "error");
        } else if (body.status === "expired") {
          show("This sign-in expired. Start again from your application.", "error");
        } else {
          again();
        }
      }, again);
  }
  again();
})();"#;

/// Builds the response: the document, and the headers that keep it out of frames, caches and
/// referrers and allow only the nonce's script and style.
fn render(status: StatusCode, title: &str, head: &str, body: &str, nonce: &str) -> Response {
    let document = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
            "<title>{title}</title>{head}<style nonce=\"{nonce}\">{style}</style></head>",
            "<body>{body}</body></html>"
        ),
        title = escape_html(title),
        head = head,
        nonce = nonce,
        style = STYLE,
        body = body,
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    (status, headers, document).into_response()
}

/// Returns a fresh nonce: 16 random bytes in unpadded base64url.
fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// Escapes `text` for HTML text and for double-quoted attribute values.
pub(super) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Serializes `value` as JSON that is safe inside a `<script>` element: no value can end the
/// element or start an HTML comment, and the JavaScript line terminators U+2028 and U+2029 are
/// escaped too.
fn json_for_script(value: &Value) -> String {
    let json = value.to_string();
    let mut safe = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            '\u{2028}' => safe.push_str("\\u2028"),
            '\u{2029}' => safe.push_str("\\u2029"),
            other => safe.push(other),
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_special_character() {
        assert_eq!(
            escape_html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let value = serde_json::json!({"url": "</script><script>alert(1)</script>\u{2028}&"});
        let safe = json_for_script(&value);
        assert!(!safe.contains('<'), "{safe}");
        assert!(!safe.contains('>'), "{safe}");
        assert!(!safe.contains('&'), "{safe}");
        assert!(!safe.contains('\u{2028}'), "{safe}");
        let parsed: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(parsed, value);
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 22);
    }

    #[tokio::test]
    async fn bridge_sends_security_headers() {
        let response = bridge(&BridgePage {
            client_name: "Claude & co",
            return_to: "http://127.0.0.1:53123",
            sign_in_url: "https://example.com/signin?a=1&b=\"2\"",
            reload_url: "/auth-bridge?pending=abc",
            poll_url: "/auth-bridge/poll?pending=abc",
            remaining_ms: 1_000,
        });
        let headers = response.headers().clone();
        let policy = headers[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("script-src 'nonce-"), "{policy}");
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap();
        assert!(
            html.contains(&format!(r#"<script nonce="{nonce}">"#)),
            "{html}"
        );
        assert!(html.contains("a=1&amp;b=&quot;2&quot;"), "{html}");
        assert!(html.contains("Claude &amp; co"), "{html}");
        assert!(html.contains(r#"content="3;url=/auth-bridge?pending=abc""#));
    }
}
