//! HTML for the browser pages: the hosted connect page and the demo provider's consent page. The pages use plain links and forms, so they work without JavaScript.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes `text` for an HTML text node or a quoted attribute value.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
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

/// A page under construction. Every `push_*` method except [`Page::push_html`] escapes its
/// text.
pub(super) struct Page {
    title: String,
    body: String,
}

impl Page {
    /// Starts a page whose `<title>` and heading are `title`.
    pub(super) fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            body: String::new(),
        }
    }

    /// Adds a paragraph of text.
    pub(super) fn paragraph(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// Adds markup that the caller has already escaped.
    pub(super) fn push_html(mut self, html: &str) -> Self {
        self.body.push_str(html);
        self
    }

    /// Adds a link styled as a button.
    pub(super) fn link_button(mut self, href: &str, label: &str) -> Self {
        let _ = write!(
            self.body,
            r#"<p><a class="button" href="{}">{}</a></p>"#,
            escape(href),
            escape(label)
        );
        self
    }

    /// Renders the page with `status`. Pages are never cached because they show one-time state.
    pub(super) fn render(self, status: StatusCode) -> Response {
        let html = format!(
            concat!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                "<title>{title} · DevVault</title><style>{style}</style></head>",
                "<body><main><p class=\"brand\">DevVault</p><h1>{title}</h1>{body}</main>",
                "</body></html>\n"
            ),
            title = escape(&self.title),
            style = STYLE,
            body = self.body,
        );
        let mut response = (status, Html(html)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:32rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 3px #0002}h1{font-size:1.4rem}.brand{color:#667;font-size:.85rem;margin:0}\
.button,button{display:inline-block;padding:.6rem 1.2rem;border:1px solid #335;border-radius:6px;\
background:#335;color:#fff;text-decoration:none;font-size:1rem;cursor:pointer}\
button.secondary{background:#fff;color:#335}input{font-size:1rem;padding:.4rem}\
code{background:#eef;padding:0 .2rem}.error{color:#a00}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn escape_keeps_plain_text() {
        assert_eq!(escape("alice – café"), "alice – café");
    }
}
