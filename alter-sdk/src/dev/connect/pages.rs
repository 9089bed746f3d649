//! The hosted connect pages a browser walks through: provider choice, the redirect to the
//! provider's authorization endpoint, and the callback that exchanges the code and stores the
//! grant.
//!
//! ```text
//! GET  /connect/{page}            one provider: 303 to the provider; several: a choice page
//! GET  /connect/{page}/authorize  ?provider=ID: 303 to that provider
//! POST /connect/{page}/cancel     ends the session with connect_denied
//! GET  /connect/callback          ?code&state or ?error&state from the provider
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::{Outcome, PendingAuthorization, Session, requested_scopes};
use crate::dev::clock::{rfc3339, unix_now};
use crate::dev::form;
use crate::dev::html::{Page, escape};
use crate::dev::provider::{AuthorizationRequest, ProviderConfig, TokenEndpointError};
use crate::dev::server::DevState;
use crate::dev::store::NewGrant;
use crate::dev::wire::code;

/// `GET /connect/{page}`.
pub(in crate::dev) async fn show(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
) -> Response {
    let (token, session) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let [provider_id] = session.request.providers.as_slice() {
        return redirect_to_provider(&state, &token, &session, provider_id);
    }
    choice_page(&state, &session)
}

/// `GET /connect/{page}/authorize?provider=ID`.
pub(in crate::dev) async fn authorize(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let (token, session) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let query = form::query(&uri);
    match query.get("provider") {
        Some(provider_id) if session.request.providers.contains(provider_id) => {
            redirect_to_provider(&state, &token, &session, provider_id)
        }
        Some(provider_id) => Page::new("Unknown provider")
            .paragraph(&format!(
                "This connect session does not offer the provider {provider_id:?}."
            ))
            .link_button(
                &format!("/connect/{}", session.page_id),
                "Choose a provider",
            )
            .render(StatusCode::BAD_REQUEST),
        None => Page::new("No provider chosen")
            .paragraph("Choose a provider on the connect page.")
            .link_button(
                &format!("/connect/{}", session.page_id),
                "Choose a provider",
            )
            .render(StatusCode::BAD_REQUEST),
    }
}

/// `POST /connect/{page}/cancel`.
pub(in crate::dev) async fn cancel(
    State(state): State<Arc<DevState>>,
    page: Result<Path<String>, PathRejection>,
) -> Response {
    let (token, session) = match open_session(&state, page) {
        Ok(found) => found,
        Err(response) => return response,
    };
    state.connect.fail(
        &token,
        code::CONNECT_DENIED,
        "the user cancelled on the connect page".to_owned(),
    );
    tracing::info!(
        target: "alter::dev::connect",
        user = %session.request.user,
        "the user cancelled a connect session"
    );
    if let Some(return_url) = &session.request.return_url {
        return Redirect::to(return_url).into_response();
    }
    Page::new("Cancelled")
        .paragraph("Nothing was connected. You can close this window.")
        .render(StatusCode::OK)
}

/// `GET /connect/callback`: the provider sends the browser back here.
pub(in crate::dev) async fn callback(State(state): State<Arc<DevState>>, uri: Uri) -> Response {
    let query = form::query(&uri);
    let Some(oauth_state) = query.get("state") else {
        return Page::new("Invalid callback")
            .paragraph("The provider sent the browser back without a state parameter.")
            .render(StatusCode::BAD_REQUEST);
    };
    let Some((pending, session)) = state.connect.take_authorization(oauth_state) else {
        return Page::new("Invalid callback")
            .paragraph(
                "This authorization is unknown, expired or already finished. Start again from \
                 the app.",
            )
            .render(StatusCode::BAD_REQUEST);
    };
    if let Err(response) = check_pending(&session) {
        return response;
    }

    if let Some(error) = query.get("error") {
        let description = query.get("error_description").map(String::as_str);
        return provider_declined(&state, &pending, &session, error, description);
    }
    let Some(authorization_code) = query.get("code") else {
        return fail(
            &state,
            &pending,
            &session,
            "the provider sent the browser back without a code or an error".to_owned(),
        );
    };
    let provider = state
        .provider(&pending.provider_id)
        .expect("only configured providers are offered");
    match finish(&state, provider, &pending, &session, authorization_code).await {
        Ok(response) => response,
        Err(message) => fail(&state, &pending, &session, message),
    }
}

/// Exchanges the code, looks up the account and stores the grant.
async fn finish(
    state: &DevState,
    provider: &ProviderConfig,
    pending: &PendingAuthorization,
    session: &Session,
    authorization_code: &str,
) -> Result<Response, String> {
    let tokens = provider
        .exchange_code(
            &state.http,
            authorization_code,
            &state.callback_url(),
            &pending.code_verifier,
        )
        .await
        .map_err(|error| match error {
            TokenEndpointError::Rejected { .. } => format!("the code exchange failed: {error}"),
            other => other.to_string(),
        })?;
    let account = provider
        .resolve_account(&state.http, &tokens.access_token)
        .await?;

    let request = &session.request;
    let (grant, operation) = state.store.upsert(NewGrant {
        user: request.user.clone(),
        provider_id: provider.id.clone(),
        label: request.label.clone(),
        account_identifier: account,
        requested_scopes: requested_scopes(provider, request),
        tokens,
        repair: request.repair_grant_id,
        restrictions: request.restrictions.clone(),
        expires_at: request
            .grant_policy
            .and_then(|policy| policy.expiry(unix_now())),
        delegable: request.delegable,
        delegate_to: request.agent,
        scope_constraint: request.scope_constraint.clone(),
    });
    // The user authorized the grant again, so an earlier scope-mismatch report no longer
    // applies.
    state.scope_reports.clear(grant.id);
    let mut completed = json!({
        "grant_id": grant.id.to_string(),
        "provider_id": grant.provider_id,
        "account_identifier": grant.account_identifier,
        "scopes": grant.scopes,
        "operation": operation.as_str(),
    });
    if let Some(policy) = grant.policy {
        completed["grant_policy"] = json!({
            "expires_at": rfc3339(policy.expires_at),
            "created_by": "app",
            "created_at": rfc3339(policy.created_at),
        });
    }
    if let Some(agent) = request.agent {
        completed["delegation"] = json!({
            "agent_id": agent.to_string(),
            "delegable": grant.delegable,
            "policy_refused": !grant.delegated_to.contains(&agent),
        });
    }
    state.connect.complete(&pending.session_token, completed);
    tracing::info!(
        target: "alter::dev::connect",
        user = %grant.user,
        provider = %grant.provider_id,
        grant_id = %grant.id,
        operation = operation.as_str(),
        "connected a grant"
    );

    if let Some(return_url) = &request.return_url {
        return Ok(Redirect::to(return_url).into_response());
    }
    let account = grant
        .account_identifier
        .as_deref()
        .map_or(String::new(), |account| format!(" ({account})"));
    Ok(Page::new("Connected")
        .paragraph(&format!(
            "{}{account} is connected for {}. You can close this window.",
            provider.name(),
            grant.user
        ))
        .render(StatusCode::OK))
}

fn provider_declined(
    state: &DevState,
    pending: &PendingAuthorization,
    session: &Session,
    error: &str,
    description: Option<&str>,
) -> Response {
    let provider_id = &pending.provider_id;
    // Declining one of several offered providers keeps the session open for the others and
    // lists the provider under `declined_providers`; declining the last one ends it.
    if error == "access_denied"
        && !state
            .connect
            .decline(&pending.session_token, provider_id, error)
    {
        tracing::info!(
            target: "alter::dev::connect",
            user = %session.request.user,
            provider = %provider_id,
            "the user declined one provider of a connect session"
        );
        return Page::new("Not connected")
            .paragraph(&format!(
                "You declined {provider_id}. You can choose another account to connect."
            ))
            .link_button(&format!("/connect/{}", session.page_id), "Choose another")
            .render(StatusCode::OK);
    }
    let (code, message) = if error == "access_denied" {
        (
            code::CONNECT_DENIED,
            format!("the user denied access at provider {provider_id:?}"),
        )
    } else {
        let mut message = format!("provider {provider_id:?} returned error {error}");
        if let Some(description) = description {
            let _ = write!(message, ": {description}");
        }
        (code::CONNECT_PROVIDER_ERROR, message)
    };
    state
        .connect
        .fail(&pending.session_token, code, message.clone());
    tracing::info!(
        target: "alter::dev::connect",
        user = %session.request.user,
        provider = %provider_id,
        code,
        "a connect session ended without a grant"
    );
    outcome_page(
        "Not connected",
        &message,
        session,
        if code == code::CONNECT_DENIED {
            StatusCode::OK
        } else {
            StatusCode::BAD_GATEWAY
        },
    )
}

fn fail(
    state: &DevState,
    pending: &PendingAuthorization,
    session: &Session,
    message: String,
) -> Response {
    tracing::warn!(
        target: "alter::dev::connect",
        provider = %pending.provider_id,
        reason = %message,
        "connecting a provider failed; check its configuration"
    );
    state.connect.fail(
        &pending.session_token,
        code::CONNECT_PROVIDER_ERROR,
        message.clone(),
    );
    outcome_page("Not connected", &message, session, StatusCode::BAD_GATEWAY)
}

/// Finds the session of a page that can still be acted on, or renders why not.
fn open_session(
    state: &DevState,
    page: Result<Path<String>, PathRejection>,
) -> Result<(String, Session), Response> {
    let unknown = || {
        Page::new("Unknown connect link")
            .paragraph("This connect link is not valid. Ask the app for a new one.")
            .render(StatusCode::NOT_FOUND)
    };
    let Ok(Path(page_id)) = page else {
        return Err(unknown());
    };
    let Some((token, session)) = state.connect.by_page(&page_id) else {
        return Err(unknown());
    };
    check_pending(&session)?;
    Ok((token, session))
}

/// Renders the page for a session that expired or already ended.
fn check_pending(session: &Session) -> Result<(), Response> {
    if session.is_expired(unix_now()) {
        return Err(outcome_page(
            "Link expired",
            "This connect link expired. Go back to the app and start again.",
            session,
            StatusCode::GONE,
        ));
    }
    match &session.outcome {
        Outcome::Pending => Ok(()),
        Outcome::Completed(_) => Err(outcome_page(
            "Already connected",
            "This connect session already finished.",
            session,
            StatusCode::OK,
        )),
        Outcome::Failed { message, .. } => Err(outcome_page(
            "Not connected",
            message,
            session,
            StatusCode::OK,
        )),
    }
}

fn outcome_page(title: &str, message: &str, session: &Session, status: StatusCode) -> Response {
    let mut page = Page::new(title).paragraph(message);
    if let Some(return_url) = &session.request.return_url {
        page = page.link_button(return_url, "Return to the app");
    }
    page.render(status)
}

fn choice_page(state: &DevState, session: &Session) -> Response {
    let request = &session.request;
    let mut intro = format!(
        "Signed in to DevVault as <strong>{}</strong>. Choose the account to connect",
        escape(&request.user)
    );
    if let Some(label) = &request.label {
        let _ = write!(intro, " as <strong>{}</strong>", escape(label));
    }
    intro.push('.');

    let mut list = String::from("<ul>");
    for provider_id in &request.providers {
        let provider = state
            .provider(provider_id)
            .expect("sessions offer configured providers");
        let href = format!(
            "/connect/{}/authorize?provider={}",
            session.page_id,
            form::encode(provider_id)
        );
        let _ = write!(
            list,
            r#"<li><p><a class="button" href="{}">{}</a></p></li>"#,
            escape(&href),
            escape(provider.name())
        );
    }
    list.push_str("</ul>");
    let cancel = format!(
        r#"<form method="post" action="/connect/{}/cancel"><button class="secondary">Cancel</button></form>"#,
        escape(&session.page_id)
    );

    Page::new("Connect an account")
        .push_html(&format!("<p>{intro}</p>"))
        .push_html(&list)
        .push_html(&cancel)
        .render(StatusCode::OK)
}

fn redirect_to_provider(
    state: &DevState,
    token: &str,
    session: &Session,
    provider_id: &str,
) -> Response {
    let provider = state
        .provider(provider_id)
        .expect("sessions offer configured providers");
    let (oauth_state, code_verifier) = state.connect.begin_authorization(token, provider_id);
    let scopes = requested_scopes(provider, &session.request);
    let url = provider.authorization_request(&AuthorizationRequest {
        redirect_uri: &state.callback_url(),
        state: &oauth_state,
        code_verifier: &code_verifier,
        scopes: &scopes,
        user: &session.request.user,
        select_account: session.request.switch_account,
    });
    tracing::debug!(
        target: "alter::dev::connect",
        user = %session.request.user,
        provider = provider_id,
        "sent the browser to the provider"
    );
    Redirect::to(&url).into_response()
}
