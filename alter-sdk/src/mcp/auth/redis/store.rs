//! [`AuthStore`] for [`RedisStore`]: each method is one script or one command, bounded by the
//! command timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, RedisResult};

use super::RedisStore;
use super::records::{self, InvalidRecord, TokenFields};
use crate::mcp::auth::store::{
    AuthStore, AuthorizationCode, CodeRedemption, FamilyId, IssuedTokens, NextTokens,
    PendingAuthorization, RegisteredClient, Rotation, SecretHash, SignInOutcome, StoreError,
    StoreFuture, TokenGrant, UnixSeconds,
};

/// Set once a record failed to decode, so the warning about mismatched keys is logged once.
static INVALID_RECORD_WARNED: AtomicBool = AtomicBool::new(false);

/// One Redis request on a connection of its own, which [`RedisStore::run`] may send twice.
type Request<'a, T> = Pin<Box<dyn Future<Output = RedisResult<T>> + Send + 'a>>;

impl RedisStore {
    /// Runs one Redis request under the command timeout, turning every failure into
    /// [`StoreError::Unavailable`].
    ///
    /// A request whose connection was refused is sent once more within the same timeout.
    /// Nothing reached Redis then, so the retry cannot apply a step twice. It matters after an
    /// outage: the connection manager reports the failed connection once more before it
    /// reconnects, and the retry makes the first request after Redis returns succeed.
    async fn run<'a, T>(
        &'a self,
        operation: &'static str,
        request: impl Fn(ConnectionManager) -> Request<'a, T>,
    ) -> Result<T, StoreError> {
        let inner = &self.inner;
        let timed_out = || {
            format!(
                "redis timed out after {} ms",
                inner.command_timeout.as_millis()
            )
        };
        let attempts = async {
            match request(inner.connection.clone()).await {
                Err(error) if error.is_connection_refusal() => {
                    request(inner.connection.clone()).await
                }
                result => result,
            }
        };
        // The connection's own response timeout equals the command timeout, so either may
        // fire first.
        let reason = match tokio::time::timeout(inner.command_timeout, attempts).await {
            Ok(Ok(value)) => {
                inner.outage.succeeded(&inner.target);
                return Ok(value);
            }
            Ok(Err(error)) if error.is_timeout() => timed_out(),
            Ok(Err(error)) => format!("redis failed: {error}"),
            Err(_) => timed_out(),
        };
        inner.outage.failed(&inner.target, operation, &reason);
        Err(StoreError::Unavailable(reason))
    }

    /// Runs one script with `keys` and `args`.
    async fn script<T: FromRedisValue + Send>(
        &self,
        operation: &'static str,
        script: &::redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, StoreError> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let invocation = &invocation;
        self.run(operation, |mut connection| {
            Box::pin(async move { invocation.invoke_async(&mut connection).await })
        })
        .await
    }

    /// Turns a record that does not decode into [`StoreError::Unavailable`]: the replicas
    /// disagree on the encryption key, or something else wrote under the prefix.
    fn invalid(&self, error: InvalidRecord) -> StoreError {
        let message = format!(
            "a stored {} cannot be read: every replica must use the same encryption key",
            error.0
        );
        if INVALID_RECORD_WARNED.swap(true, Ordering::Relaxed) {
            tracing::debug!(target: "alter::mcp::auth", redis = %self.inner.target, "{message}");
        } else {
            tracing::warn!(target: "alter::mcp::auth", redis = %self.inner.target, "{message}");
        }
        StoreError::Unavailable(message)
    }

    async fn read_token(
        &self,
        operation: &'static str,
        key: &str,
    ) -> Result<Option<TokenGrant>, StoreError> {
        let prefix = self.inner.keys.prefix();
        let fields: Option<Vec<String>> = self
            .script(operation, &self.inner.scripts.read_token, &[key], &[prefix])
            .await?;
        let Some(fields) = fields else {
            return Ok(None);
        };
        let [binding, family, scopes, expires_at, sealed_user]: [String; 5] = fields
            .try_into()
            .map_err(|_| self.invalid(InvalidRecord("token")))?;
        let fields = TokenFields {
            expires_at: parse_seconds(&expires_at).map_err(|error| self.invalid(error))?,
            binding,
            family,
            scopes,
            sealed_user,
        };
        let family_user_key = self.inner.keys.family_user(&fields.family);
        records::decode_grant(&self.inner.sealer, &family_user_key, &fields)
            .map(Some)
            .map_err(|error| self.invalid(error))
    }
}

impl AuthStore for RedisStore {
    fn insert_client(&self, client: RegisteredClient) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let record =
                serde_json::to_string(&client).expect("a registered client serializes to JSON");
            let limit = self.inner.limits.clients.to_string();
            let issued_at = client.client_id_issued_at.to_string();
            let stored: i64 = self
                .script(
                    "insert_client",
                    &self.inner.scripts.insert_client,
                    &[&keys.client(&client.client_id), &keys.clients_index()],
                    &[
                        &record,
                        &limit,
                        &client.client_id,
                        &issued_at,
                        keys.prefix(),
                    ],
                )
                .await?;
            if stored == 1 {
                Ok(())
            } else {
                Err(StoreError::Full("registered clients"))
            }
        })
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<RegisteredClient>> {
        Box::pin(async move {
            let key = self.inner.keys.client(client_id);
            let key = key.as_str();
            let record: Option<String> = self
                .run("client", |mut connection| {
                    Box::pin(async move {
                        ::redis::cmd("GET")
                            .arg(key)
                            .query_async(&mut connection)
                            .await
                    })
                })
                .await?;
            record
                .map(|record| {
                    serde_json::from_str(&record)
                        .map_err(|_| self.invalid(InvalidRecord("registered client")))
                })
                .transpose()
        })
    }

    fn insert_pending(
        &self,
        handle: SecretHash,
        pending: PendingAuthorization,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let key = keys.pending(handle);
            let (record, outcome) = records::encode_pending(&self.inner.sealer, &key, &pending);
            let expires_at = pending.expires_at.to_string();
            let limit = self.inner.limits.pending.to_string();
            let stored: i64 = self
                .script(
                    "insert_pending",
                    &self.inner.scripts.insert_pending,
                    &[&key, &keys.pending_index()],
                    &[
                        &record,
                        &outcome,
                        &expires_at,
                        &limit,
                        &handle.to_hex(),
                        keys.prefix(),
                        &pending.client_id,
                    ],
                )
                .await?;
            if stored == 1 {
                Ok(())
            } else {
                Err(StoreError::Full("pending authorizations"))
            }
        })
    }

    fn pending(&self, handle: SecretHash) -> StoreFuture<'_, Option<PendingAuthorization>> {
        Box::pin(async move {
            let key = self.inner.keys.pending(handle);
            let key_name = key.as_str();
            let (record, outcome): (Option<String>, Option<String>) = self
                .run("pending", |mut connection| {
                    Box::pin(async move {
                        ::redis::cmd("HMGET")
                            .arg(key_name)
                            .arg("record")
                            .arg("outcome")
                            .query_async(&mut connection)
                            .await
                    })
                })
                .await?;
            let (Some(record), Some(outcome)) = (record, outcome) else {
                return Ok(None);
            };
            records::decode_pending(&self.inner.sealer, &key, &record, &outcome)
                .map(Some)
                .map_err(|error| self.invalid(error))
        })
    }

    fn set_outcome(&self, handle: SecretHash, outcome: SignInOutcome) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let key = self.inner.keys.pending(handle);
            let outcome = records::encode_outcome(&self.inner.sealer, &key, &outcome);
            let set: i64 = self
                .script(
                    "set_outcome",
                    &self.inner.scripts.set_outcome,
                    &[&key],
                    &[&outcome],
                )
                .await?;
            Ok(set == 1)
        })
    }

    fn exchange_pending_for_code(
        &self,
        handle: SecretHash,
        code_hash: SecretHash,
        code: AuthorizationCode,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let code_key = keys.code(code_hash);
            let record = records::encode_code(&self.inner.sealer, &code_key, &code);
            let expires_at = code.expires_at.to_string();
            let exchanged: i64 = self
                .script(
                    "exchange_pending_for_code",
                    &self.inner.scripts.exchange_pending,
                    &[&keys.pending(handle), &code_key, &keys.pending_index()],
                    &[
                        &handle.to_hex(),
                        &record,
                        &code.family.0,
                        &expires_at,
                        &code_hash.to_hex(),
                        keys.prefix(),
                        &code.client_id,
                    ],
                )
                .await?;
            Ok(exchanged == 1)
        })
    }

    fn remove_pending(&self, handle: SecretHash) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let _: i64 = self
                .script(
                    "remove_pending",
                    &self.inner.scripts.remove_pending,
                    &[&keys.pending(handle), &keys.pending_index()],
                    &[&handle.to_hex()],
                )
                .await?;
            Ok(())
        })
    }

    fn redeem_code(&self, code_hash: SecretHash) -> StoreFuture<'_, CodeRedemption> {
        Box::pin(async move {
            let key = self.inner.keys.code(code_hash);
            let reply: Vec<String> = self
                .script("redeem_code", &self.inner.scripts.redeem_code, &[&key], &[])
                .await?;
            match reply.as_slice() {
                [state, record] if state == "redeemed" => {
                    records::decode_code(&self.inner.sealer, &key, record)
                        .map(CodeRedemption::Redeemed)
                        .map_err(|error| self.invalid(error))
                }
                [state, family] if state == "replayed" => {
                    Ok(CodeRedemption::Replayed(FamilyId(family.clone())))
                }
                [state] if state == "unknown" => Ok(CodeRedemption::Unknown),
                _ => Err(self.invalid(InvalidRecord("code redemption reply"))),
            }
        })
    }

    fn insert_tokens(&self, tokens: IssuedTokens) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let sealer = &self.inner.sealer;
            let limit = self.inner.limits.access_tokens.to_string();
            let mut args = vec![keys.prefix().to_owned(), limit];
            for (hash, grant) in [
                (tokens.access_hash, &tokens.access),
                (tokens.refresh_hash, &tokens.refresh),
            ] {
                let family_user_key = keys.family_user_of(&grant.family);
                args.extend([
                    hash.to_hex(),
                    records::encode_binding(grant),
                    grant.family.0.clone(),
                    records::encode_scopes(&grant.scopes),
                    grant.expires_at.to_string(),
                    sealer.seal(grant.user_token.expose_secret(), &family_user_key),
                ]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let stored: i64 = self
                .script(
                    "insert_tokens",
                    &self.inner.scripts.insert_tokens,
                    &[
                        &keys.access(tokens.access_hash),
                        &keys.refresh(tokens.refresh_hash),
                        &keys.access_index(),
                        &keys.refresh_index(),
                    ],
                    &args,
                )
                .await?;
            if stored == 1 {
                Ok(())
            } else {
                Err(StoreError::Full("access tokens"))
            }
        })
    }

    fn access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        Box::pin(async move {
            let key = self.inner.keys.access(access_hash);
            self.read_token("access_token", &key).await
        })
    }

    fn refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        Box::pin(async move {
            let key = self.inner.keys.refresh(refresh_hash);
            self.read_token("refresh_token", &key).await
        })
    }

    fn rotate_refresh(
        &self,
        refresh_hash: SecretHash,
        next: NextTokens,
        now: UnixSeconds,
        grace_seconds: u64,
    ) -> StoreFuture<'_, Rotation> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let args = [
                keys.prefix().to_owned(),
                self.inner.limits.access_tokens.to_string(),
                now.to_string(),
                grace_seconds.to_string(),
                next.access_hash.to_hex(),
                next.refresh_hash.to_hex(),
                records::encode_scopes(&next.scopes),
                next.access_expires_at.to_string(),
                next.refresh_expires_at.to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let reply: Vec<String> = self
                .script(
                    "rotate_refresh",
                    &self.inner.scripts.rotate_refresh,
                    &[
                        &keys.refresh(refresh_hash),
                        &keys.access(next.access_hash),
                        &keys.refresh(next.refresh_hash),
                        &keys.access_index(),
                        &keys.refresh_index(),
                    ],
                    &args,
                )
                .await?;
            match reply.as_slice() {
                [state, binding, family, scopes, sealed_user]
                    if state == "rotated" || state == "grace" =>
                {
                    let fields = TokenFields {
                        binding: binding.clone(),
                        family: family.clone(),
                        scopes: scopes.clone(),
                        expires_at: next.refresh_expires_at,
                        sealed_user: sealed_user.clone(),
                    };
                    let family_user_key = keys.family_user(family);
                    let grant =
                        records::decode_grant(&self.inner.sealer, &family_user_key, &fields)
                            .map_err(|error| self.invalid(error))?;
                    if state == "rotated" {
                        Ok(Rotation::Rotated(grant))
                    } else {
                        Ok(Rotation::RotatedInGrace(grant))
                    }
                }
                [state, family] if state == "reused" => {
                    Ok(Rotation::Reused(FamilyId(family.clone())))
                }
                [state] if state == "full" => Err(StoreError::Full("access tokens")),
                [state] if state == "unknown" => Ok(Rotation::Unknown),
                _ => Err(self.invalid(InvalidRecord("rotation reply"))),
            }
        })
    }

    fn revoke_access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let _: i64 = self
                .script(
                    "revoke_access_token",
                    &self.inner.scripts.revoke_access,
                    &[&keys.access(access_hash), &keys.access_index()],
                    &[keys.prefix(), &access_hash.to_hex()],
                )
                .await?;
            Ok(())
        })
    }

    fn revoke_refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<FamilyId>> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let family: Option<String> = self
                .script(
                    "revoke_refresh_token",
                    &self.inner.scripts.revoke_refresh,
                    &[&keys.refresh(refresh_hash)],
                    &[keys.prefix()],
                )
                .await?;
            Ok(family.map(FamilyId))
        })
    }

    fn revoke_family(&self, family: FamilyId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = &self.inner.keys;
            let _: i64 = self
                .script(
                    "revoke_family",
                    &self.inner.scripts.revoke_family,
                    &[],
                    &[keys.prefix(), &family.0],
                )
                .await?;
            Ok(())
        })
    }

    fn sweep(&self, _now: UnixSeconds) -> StoreFuture<'_, ()> {
        // Every key carries its own Redis expiry, and each insert trims the indexes it counts.
        Box::pin(async { Ok(()) })
    }
}

fn parse_seconds(value: &str) -> Result<UnixSeconds, InvalidRecord> {
    value
        .parse()
        .map_err(|_| InvalidRecord("token expiry time"))
}
