//! The hosted sign-in page a browser opens from `auth_url`.
//!
//! Under auto-approve a session is completed when it is created, so its page only reports
//! that the sign-in finished.
//!
//! ```text
//! GET  /signin/{page}          the form, its user name filled in from ?login_hint=NAME
//! POST /signin/{page}          user=NAME: signs in as that DevVault user
//! POST /signin/{page}/cancel   ends the session with access_denied
//! ```

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{Outcome, Session};
use crate::dev::clock::unix_now;
use crate::dev::errors::ApiError;
use crate::dev::form;
use crate::dev::html::{Page, escape};
use crate::dev::idp::validate_user_name;
use crate::dev::secret::Secret;
use crate::dev::server::DevState;

/// The `error_code` of a session the user cancelled.
const CANCELLED: &str = "access_denied";

/// `GET /signin/{page}`.
pub(in crate::dev) async fn show(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let (_, session) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let hint = form::query(&uri)
        .remove("login_hint")
        .filter(|hint| validate_user_name(hint).is_ok());
    form_page(
        &session,
        hint.as_deref().unwrap_or(""),
        None,
        StatusCode::OK,
    )
}

/// `POST /signin/{page}` with the form field `user`.
pub(in crate::dev) async fn submit(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::unreadable_body(&rejection).into_response(),
    };
    let (token, session) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let params = form::parse(&body);
    let user = params.get("user").map_or("", |user| user.trim());
    if let Err(problem) = validate_user_name(user) {
        return form_page(&session, user, Some(&problem), StatusCode::BAD_REQUEST);
    }
    sign_in(&state, &token, user)
}

/// `POST /signin/{page}/cancel`.
pub(in crate::dev) async fn cancel(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
) -> Response {
    let (token, _) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let outcome = Outcome::Failed {
        code: CANCELLED,
        message: "the user cancelled the sign-in".to_owned(),
    };
    if !state.sign_in.finish(&token, outcome) {
        return already_finished();
    }
    tracing::info!(target: "alter::dev::signin", "the user cancelled a sign-in session");
    Page::new("Sign-in cancelled")
        .paragraph("You were not signed in. You can close this window.")
        .render(StatusCode::OK)
}

/// Mints a user token for `user` and completes the session with it.
fn sign_in(state: &DevState, token: &str, user: &str) -> Response {
    let user_token = match state.idp.mint(user, state.idp.token_lifetime()) {
        Ok(user_token) => user_token,
        Err(problem) => {
            return Page::new("Invalid user name")
                .paragraph(&problem)
                .render(StatusCode::BAD_REQUEST);
        }
    };
    let outcome = Outcome::Completed {
        user: user.to_owned(),
        user_token: Secret::new(user_token),
    };
    if !state.sign_in.finish(token, outcome) {
        return already_finished();
    }
    tracing::info!(target: "alter::dev::signin", user, "a user signed in");
    Page::new("Signed in")
        .paragraph(&format!(
            "You are signed in to DevVault as {user}. You can close this window."
        ))
        .render(StatusCode::OK)
}

/// Finds the session of a page that can still be acted on, or renders why not.
fn open_session(
    state: &DevState,
    page: Result<Path<String>, PathRejection>,
) -> Result<(String, Session), Response> {
    let unknown = || {
        Page::new("Unknown sign-in link")
            .paragraph("This sign-in link is not valid. Ask the app for a new one.")
            .render(StatusCode::NOT_FOUND)
    };
    let Ok(Path(page_id)) = page else {
        return Err(unknown());
    };
    let Some((token, session)) = state.sign_in.by_page(&page_id) else {
        return Err(unknown());
    };
    if session.is_expired(unix_now()) {
        return Err(Page::new("Link expired")
            .paragraph("This sign-in link expired. Go back to the app and start again.")
            .render(StatusCode::GONE));
    }
    if !matches!(session.outcome, Outcome::Pending) {
        return Err(already_finished());
    }
    Ok((token, session))
}

fn already_finished() -> Response {
    Page::new("Sign-in finished")
        .paragraph("This sign-in session already finished. Go back to the app.")
        .render(StatusCode::OK)
}

fn form_page(session: &Session, user: &str, problem: Option<&str>, status: StatusCode) -> Response {
    let problem = problem.map_or(String::new(), |problem| {
        format!(r#"<p class="error">{}</p>"#, escape(problem))
    });
    let form = format!(
        concat!(
            r#"<form method="post" action="/signin/{page}">"#,
            r#"<p><label>User name <input name="user" value="{user}" required></label></p>"#,
            r#"<p><button>Sign in</button></p></form>"#,
            r#"<form method="post" action="/signin/{page}/cancel">"#,
            r#"<button class="secondary">Cancel</button></form>"#
        ),
        page = escape(&session.page_id),
        user = escape(user),
    );
    Page::new("Sign in")
        .paragraph(
            "Sign in as a DevVault user. A new name creates the user; there is no password \
             because DevVault is for local development only.",
        )
        .push_html(&problem)
        .push_html(&form)
        .render(status)
}
