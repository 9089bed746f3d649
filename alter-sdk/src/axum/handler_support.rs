//! The runtime behind `#[alter::handler]`, reached through `alter::__private`.
//!
//! The macro replaces the handler's `Vault` parameter with one of the two extractors here, and
//! runs the handler body through [`run_in_scope`] with the token they captured.

use std::future::Future;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::alter_axum::AlterAxum;
use super::extract::{request_user_token, required_user_token};
use super::rejection::BearerRejection;
use crate::identity::{self, UserToken};
use crate::vault::Vault;

/// The extractor of `#[alter::handler]`: the vault bound to the request's user, who must be
/// signed in.
#[derive(Debug)]
pub struct RequiredUser {
    vault: Vault,
    token: UserToken,
}

impl RequiredUser {
    /// Splits into the bound vault and the token for the handler's identity scope.
    pub fn into_parts(self) -> (Vault, Option<UserToken>) {
        (self.vault, Some(self.token))
    }
}

impl<S> FromRequestParts<S> for RequiredUser
where
    AlterAxum: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = required_user_token(parts)?;
        let vault = AlterAxum::from_ref(state)
            .vault()
            .with_user_token(token.clone());
        Ok(Self { vault, token })
    }
}

/// The extractor of `#[alter::handler(optional)]`: the vault, bound to the request's user when
/// the request carries a bearer token.
#[derive(Debug)]
pub struct OptionalUser {
    vault: Vault,
    token: Option<UserToken>,
}

impl OptionalUser {
    /// Splits into the vault and the token for the handler's identity scope, if any.
    pub fn into_parts(self) -> (Vault, Option<UserToken>) {
        (self.vault, self.token)
    }
}

impl<S> FromRequestParts<S> for OptionalUser
where
    AlterAxum: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = request_user_token(parts)?;
        let alter = AlterAxum::from_ref(state);
        let vault = match &token {
            Some(token) => alter.vault().with_user_token(token.clone()),
            None => alter.vault().clone(),
        };
        Ok(Self { vault, token })
    }
}

/// Runs the handler body with `token` as the current user, or as it is when there is none.
pub async fn run_in_scope<F: Future>(token: Option<UserToken>, body: F) -> F::Output {
    match token {
        Some(token) => identity::scope(token, body).await,
        None => body.await,
    }
}
