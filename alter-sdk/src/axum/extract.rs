//! Extractors that read the user's bearer token and bind the vault to it.
//!
//! The token comes from the request extensions when an authentication layer put one there
//! with [`AlterAxum::set_user_token`], and otherwise from the `Authorization` header. The vault
//! comes from the router state through [`FromRef`].

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use super::alter_axum::AlterAxum;
use super::rejection::BearerRejection;
use crate::identity::{self, UserToken};
use crate::vault::Vault;

/// Reads the request's user token: `Ok(None)` when the request carries none at all.
pub(crate) fn request_user_token(parts: &Parts) -> Result<Option<UserToken>, BearerRejection> {
    identity::request_user_token(parts).map_err(BearerRejection::Malformed)
}

/// Reads the request's user token, and rejects a request without one.
pub(crate) fn required_user_token(parts: &Parts) -> Result<UserToken, BearerRejection> {
    request_user_token(parts)?.ok_or(BearerRejection::Missing)
}

/// The user's bearer token. Rejects a request without one, or with a malformed
/// `Authorization` header, with [`BearerRejection`].
///
/// As `Option<UserToken>`, a request without an `Authorization` header gives `None`; a
/// malformed header is still rejected.
impl<S> FromRequestParts<S> for UserToken
where
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required_user_token(parts)
    }
}

impl<S> OptionalFromRequestParts<S> for UserToken
where
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        request_user_token(parts)
    }
}

/// The vault bound to the request's user. Rejects a request without a bearer token, or with a
/// malformed `Authorization` header, with [`BearerRejection`].
///
/// As `Option<Vault>`, a request without an `Authorization` header gives `None`; a malformed
/// header is still rejected.
impl<S> FromRequestParts<S> for Vault
where
    AlterAxum: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = required_user_token(parts)?;
        Ok(AlterAxum::from_ref(state).vault().with_user_token(token))
    }
}

impl<S> OptionalFromRequestParts<S> for Vault
where
    AlterAxum: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let token = request_user_token(parts)?;
        Ok(token.map(|token| AlterAxum::from_ref(state).vault().with_user_token(token)))
    }
}

/// The vault, bound to the request's user when the request carries a bearer token.
///
/// For routes where signing in is optional. Without an `Authorization` header the vault has no
/// user bound, so a user-scoped call on it fails with
/// [`Error::MissingUserToken`](crate::Error::MissingUserToken), which becomes a `401` response. A present
/// but malformed header is rejected with [`BearerRejection`] as for [`Vault`].
///
/// ```no_run
/// use alter::axum::OptionalUserVault;
///
/// async fn greeting(OptionalUserVault(vault): OptionalUserVault) -> &'static str {
///     if vault.bound_user_token().is_some() {
///         "welcome back"
///     } else {
///         "hello, guest"
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct OptionalUserVault(pub Vault);

impl<S> FromRequestParts<S> for OptionalUserVault
where
    AlterAxum: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = request_user_token(parts)?;
        let alter = AlterAxum::from_ref(state);
        Ok(Self(match token {
            Some(token) => alter.vault().with_user_token(token),
            None => alter.vault().clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use http::Request;
    use http::header::AUTHORIZATION;

    use super::*;
    use crate::protocol::bearer::MalformedBearer;

    fn parts(authorization: &[&'static str]) -> Parts {
        let mut builder = Request::builder();
        for value in authorization {
            builder = builder.header(AUTHORIZATION, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn alter() -> AlterAxum {
        AlterAxum::new("alter_rk_abcdefghijklmnopqrstuv_iwpykn")
            .base_url("https://backend.alterauth.com")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn vault_bound_to_bearer() {
        let vault = <Vault as FromRequestParts<_>>::from_request_parts(
            &mut parts(&["Bearer user-1"]),
            &alter(),
        )
        .await
        .unwrap();
        assert_eq!(vault.bound_user_token().unwrap().expose_secret(), "user-1");
    }

    #[tokio::test]
    async fn vault_rejects_missing_header() {
        let rejection =
            <Vault as FromRequestParts<_>>::from_request_parts(&mut parts(&[]), &alter())
                .await
                .unwrap_err();
        assert_eq!(rejection, BearerRejection::Missing);
    }

    #[tokio::test]
    async fn extension_token_wins_over_header() {
        let mut parts = parts(&["Bearer from-header"]);
        AlterAxum::set_user_token(&mut parts, "from-layer");
        let token = <UserToken as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(token.expose_secret(), "from-layer");
    }

    #[tokio::test]
    async fn extension_token_without_header() {
        let mut parts = parts(&[]);
        AlterAxum::set_user_token(&mut parts, "from-layer");
        let vault = <Vault as FromRequestParts<_>>::from_request_parts(&mut parts, &alter())
            .await
            .unwrap();
        assert_eq!(
            vault.bound_user_token().unwrap().expose_secret(),
            "from-layer"
        );
    }

    #[tokio::test]
    async fn option_vault_is_none_without_header() {
        let vault =
            <Vault as OptionalFromRequestParts<_>>::from_request_parts(&mut parts(&[]), &alter())
                .await
                .unwrap();
        assert!(vault.is_none());
    }

    #[tokio::test]
    async fn option_vault_rejects_malformed_header() {
        let rejection = <Vault as OptionalFromRequestParts<_>>::from_request_parts(
            &mut parts(&["Basic dXNlcjpwYXNz"]),
            &alter(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            rejection,
            BearerRejection::Malformed(MalformedBearer::OtherScheme)
        );
    }

    #[tokio::test]
    async fn optional_user_vault_unbound_without_header() {
        let OptionalUserVault(vault) =
            OptionalUserVault::from_request_parts(&mut parts(&[]), &alter())
                .await
                .unwrap();
        assert!(vault.bound_user_token().is_none());
    }

    #[tokio::test]
    async fn optional_user_vault_bound_with_header() {
        let OptionalUserVault(vault) =
            OptionalUserVault::from_request_parts(&mut parts(&["bearer user-3"]), &alter())
                .await
                .unwrap();
        assert_eq!(vault.bound_user_token().unwrap().expose_secret(), "user-3");
    }

    #[tokio::test]
    async fn optional_user_vault_rejects_two_headers() {
        let rejection =
            OptionalUserVault::from_request_parts(&mut parts(&["Bearer a", "Bearer b"]), &alter())
                .await
                .unwrap_err();
        assert_eq!(
            rejection,
            BearerRejection::Malformed(MalformedBearer::MultipleHeaders)
        );
    }
}
