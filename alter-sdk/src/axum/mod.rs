//! The axum integration: one vault for the application, bound to each request's user.
//!
//! Build an [`AlterAxum`] at start-up and put it in the router state. A handler then receives
//! the vault bound to the user whose bearer token came with the request. It can do so through
//! the [`#[alter::handler]`](crate::handler) attribute, which also makes the user current for
//! everything the handler calls, or through a plain extractor.
//!
//! ```no_run
//! use alter::axum::AlterAxum;
//! use alter::{Method, Vault};
//! use axum::Router;
//! use axum::routing::get;
//!
//! #[alter::handler]
//! async fn profile(vault: Vault) -> Result<String, alter::Error> {
//!     let response = vault
//!         .request(Method::GET, "https://api.github.com/user")
//!         .provider("github")
//!         .send()
//!         .await?;
//!     Ok(response.text()?.to_owned())
//! }
//!
//! async fn plain(vault: Vault) -> &'static str {
//!     // `vault` acts for the request's user; no identity scope is set.
//!     "ok"
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let alter = AlterAxum::new(std::env::var("ALTER_API_KEY")?)
//!     .caller("my-app")
//!     .build()?;
//! let app = Router::new()
//!     .route("/profile", get(profile))
//!     .route("/plain", get(plain))
//!     .with_state(alter.clone());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! // Sends every pending audit row once the server has stopped.
//! alter.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Extractors
//!
//! Each reads the user's token from the request extensions, where an authentication layer may
//! have put it with [`AlterAxum::set_user_token`], and otherwise from the `Authorization`
//! header. The vault comes from the router state, which must provide an [`AlterAxum`] through
//! [`FromRef`](axum::extract::FromRef) (the `AlterAxum` itself as the state does).
//!
//! | extractor | without `Authorization` | malformed `Authorization` |
//! |---|---|---|
//! | [`Vault`](crate::Vault) | `401` | `401` |
//! | `Option<Vault>` | `None` | `401` |
//! | [`OptionalUserVault`] | the vault with no user bound | `401` |
//! | [`UserToken`](crate::UserToken) | `401` | `401` |
//! | `Option<UserToken>` | `None` | `401` |
//!
//! The `401` responses are [`BearerRejection`]s: `WWW-Authenticate: Bearer` when the header is
//! missing, `Bearer error="invalid_request"` when it is malformed, and a JSON body
//! `{"error": …, "message": …}`. The header must be `Bearer <token>` with the scheme in any
//! case, one or more spaces, and one token of the RFC 6750 characters
//! `A-Z a-z 0-9 - . _ ~ + /` followed by any number of `=`. Another scheme, an empty token, a
//! second token, non-ASCII bytes and several `Authorization` headers are all malformed.
//!
//! # Errors as responses
//!
//! [`Error`](crate::Error) implements [`IntoResponse`](axum::response::IntoResponse), so a
//! handler can return `Result<_, alter::Error>` and use `?` on vault calls. The body is
//! `{"error": <code>, "message": <text>}` with a fixed message per row: it never contains the
//! backend's or the provider's own message or body, a URL, a request id or a secret. Every
//! `5xx` answer logs the full error at `error` level under the target `alter::axum`.
//!
//! | error | status | `error` | extra |
//! |---|---|---|---|
//! | `MissingUserToken` | 401 | `missing_bearer_token` | `WWW-Authenticate: Bearer` |
//! | `UserTokenRejected` | 401 | `invalid_token` | `WWW-Authenticate: Bearer error="invalid_token"` |
//! | `StepUpRequired` | 401 | `insufficient_user_authentication` | `WWW-Authenticate: Bearer error="insufficient_user_authentication"`, with `max_age` when known (RFC 9470) |
//! | `GrantNotFound` | 403 | `grant_not_found` | `"connect_required": true`, `"provider"` |
//! | `NoDelegatedGrant` | 403 | `no_delegated_grant` | `"connect_required": true`, `"provider"` |
//! | `ScopeReauthRequired` | 403 | `scope_reauth_required` | `"connect_required": true`, `"provider"` |
//! | `CredentialRevoked` | 403 | `credential_revoked` | `"connect_required": true`, `"provider"` |
//! | `GrantExpired` | 403 | `grant_expired` | `"connect_required": true`, `"provider"` |
//! | `GrantRevoked` | 403 | `grant_revoked` | `"connect_required": true`, `"provider"` |
//! | `GrantDeleted` | 403 | `grant_deleted` | `"connect_required": true`, `"provider"` |
//! | `ProviderUnauthorized` | 403 | `provider_unauthorized` | `"connect_required": true`, `"provider"` |
//! | `PolicyViolation`, `RedactDischargeFailed` | 403 | `policy_violation` | |
//! | `GrantNotDelegable` | 403 | `grant_not_delegable` | |
//! | `Connect`, the user declined | 403 | `connect_denied` | |
//! | `AmbiguousGrant` | 409 | `ambiguous_grant` | `"provider"` |
//! | `ManagedSecret`, label already used | 409 | `label_conflict` | |
//! | `RateLimited` | 429 | `rate_limited` | `Retry-After` when known |
//! | `QuotaExceeded` | 429 | `quota_exceeded` | `Retry-After` when known |
//! | `Provider` with status 429 | 429 | `provider_rate_limited` | `"provider"` |
//! | `TokenRefreshInProgress` | 503 | `temporarily_unavailable` | `Retry-After` when known |
//! | `Provider`, any other status | 502 | `provider_error` | `"provider"`, `"provider_status"` |
//! | `Backend` with a 5xx status, `MalformedResponse`, `Network`, `Decode`, `Connect` flow error | 502 | `bad_gateway` | |
//! | `Timeout` | 504 | `gateway_timeout` | |
//! | `Connect` timed out | 504 | `connect_timeout` | |
//! | `Config`, `InvalidRequest`, `KeyRejected`, `Agent`, `InsufficientScope`, `RestrictedGrantRequiresProxy`, `BlockedDestination`, other `ManagedSecret` conflicts, `Backend` with a 4xx status, `Connect` configuration error | 500 | `internal_error` | |
//!
//! The `connect_required` rows are exactly the errors for which
//! [`Error::needs_connect_session`](crate::Error::needs_connect_session) is true: the client
//! should send the user through a connect session for `provider`, which
//! [`Vault::create_connect_session`](crate::Vault::create_connect_session) starts. The `500`
//! rows are mistakes in the application's configuration or code, which the end user cannot
//! fix, so their details stay in the log.

mod alter_axum;
mod error_response;
mod extract;
pub(crate) mod handler_support;
mod json_error;
mod rejection;

pub use crate::protocol::bearer::MalformedBearer;
pub use alter_axum::{AlterAxum, AlterAxumBuilder, RequestExtensions};
pub use extract::OptionalUserVault;
pub use rejection::BearerRejection;
