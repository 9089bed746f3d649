//! The behaviour every `AuthStore` must have, written once and run against each store by
//! `contract_tests!`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use alter::mcp::auth::store::{
    AuthStore, CodeRedemption, FamilyId, NextTokens, PendingAuthorization, Rotation, SignInOutcome,
    StoreError, StoreLimits, TokenGrant,
};

use crate::fixtures::{self, code, family, hash, issued, next, now, pending, user};

/// How many tasks race on one record in the concurrency tests.
const RACERS: usize = 8;

/// A store under test, and whatever must live as long as it (a Redis server).
pub(crate) struct Opened<S> {
    pub(crate) store: Arc<S>,
    pub(crate) _guard: Box<dyn Any + Send>,
}

/// Opens a fresh, empty store of one kind.
pub(crate) trait StoreKind {
    type Store: AuthStore;

    async fn open(limits: StoreLimits) -> Opened<Self::Store>;
}

/// Generates, for each store kind, a module with one `#[tokio::test]` per listed contract
/// test, so every kind runs the same list.
macro_rules! contract_tests {
    ($($module:ident: $kind:ty),+ ; $tests:tt) => {
        $(
            $crate::contract::contract_tests!(@module $module, $kind, $tests);
        )+
    };
    (@module $module:ident, $kind:ty, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::contract::$test::<$kind>().await;
                }
            )*
        }
    };
}

pub(crate) use contract_tests;

async fn open<K: StoreKind>() -> Opened<K::Store> {
    K::open(StoreLimits::default()).await
}

fn assert_grant(actual: &TokenGrant, expected: &TokenGrant) {
    assert_eq!(actual.client_id, expected.client_id, "client id");
    assert_eq!(actual.resource, expected.resource, "resource");
    assert_eq!(actual.scopes, expected.scopes, "scopes");
    assert_eq!(
        actual.user_token.expose_secret(),
        expected.user_token.expose_secret(),
        "user token"
    );
    assert_eq!(actual.family, expected.family, "family");
    assert_eq!(actual.expires_at, expected.expires_at, "expiry");
}

fn assert_pending(actual: &PendingAuthorization, expected: &PendingAuthorization) {
    assert_eq!(actual.client_id, expected.client_id, "client id");
    assert_eq!(actual.redirect_uri, expected.redirect_uri, "redirect uri");
    assert_eq!(actual.state, expected.state, "state");
    assert_eq!(
        actual.code_challenge, expected.code_challenge,
        "code challenge"
    );
    assert_eq!(actual.resource, expected.resource, "resource");
    assert_eq!(actual.scopes, expected.scopes, "scopes");
    assert_eq!(
        actual.sign_in_session.expose_secret(),
        expected.sign_in_session.expose_secret(),
        "sign-in session"
    );
    assert_eq!(actual.sign_in_url, expected.sign_in_url, "sign-in url");
    assert_eq!(actual.created_at, expected.created_at, "creation time");
    assert_eq!(actual.expires_at, expected.expires_at, "expiry");
}

/// Waits until the wall clock has passed `at`, for tests of expiry by time.
async fn sleep_past(at: u64) {
    while now() <= at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn client_round_trip<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let client = fixtures::client("client-round-trip");
    store.insert_client(client.clone()).await.unwrap();

    let found = store.client("client-round-trip").await.unwrap();
    assert_eq!(found, Some(client));
    assert_eq!(store.client("no-such-client").await.unwrap(), None);
}

pub(crate) async fn client_limit<K: StoreKind>() {
    let limits = StoreLimits {
        clients: 3,
        ..StoreLimits::default()
    };
    let opened = K::open(limits).await;
    let store = &opened.store;
    for index in 0..3 {
        let client = fixtures::client(&format!("client-{index}"));
        store.insert_client(client).await.unwrap();
    }

    let error = store
        .insert_client(fixtures::client("client-3"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    assert_eq!(store.client("client-3").await.unwrap(), None);
    assert!(store.client("client-0").await.unwrap().is_some());
}

pub(crate) async fn client_limit_drops_idle_clients<K: StoreKind>() {
    let limits = StoreLimits {
        clients: 2,
        ..StoreLimits::default()
    };
    let opened = K::open(limits).await;
    let store = &opened.store;
    let two_days_ago = now() - 2 * 86_400;
    for client_id in ["client-1", "client-idle"] {
        let mut client = fixtures::client(client_id);
        client.client_id_issued_at = two_days_ago;
        store.insert_client(client).await.unwrap();
    }
    // The fixtures issue tokens to `client-1`, which keeps it referenced.
    store
        .insert_tokens(issued(&family(), &user()))
        .await
        .unwrap();

    store
        .insert_client(fixtures::client("client-new"))
        .await
        .unwrap();
    assert!(store.client("client-idle").await.unwrap().is_none());
    assert!(store.client("client-1").await.unwrap().is_some());
    assert!(store.client("client-new").await.unwrap().is_some());
    let error = store
        .insert_client(fixtures::client("client-newer"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
}

pub(crate) async fn pending_round_trip<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    let record = pending(now() + 300);
    store.insert_pending(handle, record.clone()).await.unwrap();

    let found = store
        .pending(handle)
        .await
        .unwrap()
        .expect("the pending record");
    assert_pending(&found, &record);
    assert!(matches!(found.outcome, SignInOutcome::Pending));
    assert!(store.pending(hash()).await.unwrap().is_none());
}

pub(crate) async fn pending_outcome<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    let record = pending(now() + 300);
    store.insert_pending(handle, record.clone()).await.unwrap();
    let signed_in = user();

    let set = store
        .set_outcome(handle, SignInOutcome::SignedIn(signed_in.clone()))
        .await
        .unwrap();
    assert!(set);
    let found = store
        .pending(handle)
        .await
        .unwrap()
        .expect("the pending record");
    assert_pending(&found, &record);
    match found.outcome {
        SignInOutcome::SignedIn(token) => {
            assert_eq!(token.expose_secret(), signed_in.expose_secret());
        }
        other => panic!("expected a signed-in outcome, got {other:?}"),
    }

    let set = store
        .set_outcome(
            handle,
            SignInOutcome::Failed("the sign-in expired".to_owned()),
        )
        .await
        .unwrap();
    assert!(set);
    let found = store
        .pending(handle)
        .await
        .unwrap()
        .expect("the pending record");
    match found.outcome {
        SignInOutcome::Failed(message) => assert_eq!(message, "the sign-in expired"),
        other => panic!("expected a failed outcome, got {other:?}"),
    }

    let unknown = store
        .set_outcome(hash(), SignInOutcome::Pending)
        .await
        .unwrap();
    assert!(!unknown);
}

pub(crate) async fn pending_expired_is_absent<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() - 1))
        .await
        .unwrap();

    assert!(store.pending(handle).await.unwrap().is_none());
    let set = store
        .set_outcome(handle, SignInOutcome::Pending)
        .await
        .unwrap();
    assert!(!set);
}

pub(crate) async fn pending_limit_frees_expired<K: StoreKind>() {
    let limits = StoreLimits {
        pending: 2,
        ..StoreLimits::default()
    };
    let opened = K::open(limits).await;
    let store = &opened.store;
    let short_expiry = now() + 1;
    store
        .insert_pending(hash(), pending(short_expiry))
        .await
        .unwrap();
    store
        .insert_pending(hash(), pending(short_expiry))
        .await
        .unwrap();

    let error = store
        .insert_pending(hash(), pending(now() + 300))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");

    sleep_past(short_expiry).await;
    store.sweep(now()).await.unwrap();
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    assert!(store.pending(handle).await.unwrap().is_some());
}

pub(crate) async fn pending_remove<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();

    store.remove_pending(handle).await.unwrap();
    assert!(store.pending(handle).await.unwrap().is_none());
    let exchanged = store
        .exchange_pending_for_code(handle, hash(), code(family(), user(), now() + 300))
        .await
        .unwrap();
    assert!(!exchanged);
    store.remove_pending(hash()).await.unwrap();
}

pub(crate) async fn exchange_race_issues_one_code<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let family = family();
    let signed_in = user();

    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(store);
        let code_hash = hash();
        let code = code(family.clone(), signed_in.clone(), now() + 300);
        racers.push(tokio::spawn(async move {
            let exchanged = store
                .exchange_pending_for_code(handle, code_hash, code)
                .await
                .unwrap();
            (code_hash, exchanged)
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for racer in racers {
        let (code_hash, exchanged) = racer.await.unwrap();
        if exchanged {
            winners.push(code_hash);
        } else {
            losers.push(code_hash);
        }
    }

    assert_eq!(winners.len(), 1, "exactly one exchange wins");
    assert!(store.pending(handle).await.unwrap().is_none());
    let redeemed = store.redeem_code(winners[0]).await.unwrap();
    assert!(
        matches!(redeemed, CodeRedemption::Redeemed(_)),
        "{redeemed:?}"
    );
    for code_hash in losers {
        let lost = store.redeem_code(code_hash).await.unwrap();
        assert!(matches!(lost, CodeRedemption::Unknown), "{lost:?}");
    }
}

pub(crate) async fn code_single_use_under_race<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let code_hash = hash();
    let family = family();
    let issued_code = code(family.clone(), user(), now() + 300);
    let exchanged = store
        .exchange_pending_for_code(handle, code_hash, issued_code.clone())
        .await
        .unwrap();
    assert!(exchanged);

    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(store);
        racers.push(tokio::spawn(async move {
            store.redeem_code(code_hash).await.unwrap()
        }));
    }
    let mut redeemed = Vec::new();
    let mut replayed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            CodeRedemption::Redeemed(code) => redeemed.push(code),
            CodeRedemption::Replayed(replay_family) => {
                assert_eq!(replay_family, family);
                replayed += 1;
            }
            CodeRedemption::Unknown => panic!("a live code redeemed as unknown"),
        }
    }

    assert_eq!(redeemed.len(), 1, "exactly one redemption succeeds");
    assert_eq!(replayed, RACERS - 1);
    let code = &redeemed[0];
    assert_eq!(code.client_id, issued_code.client_id);
    assert_eq!(code.redirect_uri, issued_code.redirect_uri);
    assert_eq!(code.code_challenge, issued_code.code_challenge);
    assert_eq!(code.resource, issued_code.resource);
    assert_eq!(code.scopes, issued_code.scopes);
    assert_eq!(
        code.user_token.expose_secret(),
        issued_code.user_token.expose_secret()
    );
    assert_eq!(code.family, issued_code.family);
    assert_eq!(code.expires_at, issued_code.expires_at);

    let again = store.redeem_code(code_hash).await.unwrap();
    assert!(matches!(again, CodeRedemption::Replayed(_)), "{again:?}");
    let unknown = store.redeem_code(hash()).await.unwrap();
    assert!(matches!(unknown, CodeRedemption::Unknown), "{unknown:?}");
}

pub(crate) async fn code_expired_is_unknown<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let code_hash = hash();
    let exchanged = store
        .exchange_pending_for_code(handle, code_hash, code(family(), user(), now() - 1))
        .await
        .unwrap();
    assert!(exchanged);

    let redeemed = store.redeem_code(code_hash).await.unwrap();
    assert!(matches!(redeemed, CodeRedemption::Unknown), "{redeemed:?}");
}

pub(crate) async fn tokens_round_trip<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let tokens = issued(&family(), &user());
    store.insert_tokens(tokens.clone()).await.unwrap();

    let access = store.access_token(tokens.access_hash).await.unwrap();
    assert_grant(&access.expect("the access token"), &tokens.access);
    let refresh = store.refresh_token(tokens.refresh_hash).await.unwrap();
    assert_grant(&refresh.expect("the refresh token"), &tokens.refresh);

    assert!(store.access_token(hash()).await.unwrap().is_none());
    assert!(store.refresh_token(hash()).await.unwrap().is_none());
    let crossed = store.access_token(tokens.refresh_hash).await.unwrap();
    assert!(crossed.is_none(), "a refresh token is no access token");
    let crossed = store.refresh_token(tokens.access_hash).await.unwrap();
    assert!(crossed.is_none(), "an access token is no refresh token");
}

pub(crate) async fn expired_tokens_are_absent<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let mut tokens = issued(&family(), &user());
    tokens.access.expires_at = now() - 1;
    store.insert_tokens(tokens.clone()).await.unwrap();

    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(tokens.refresh_hash)
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn tokens_expire_by_time<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let mut tokens = issued(&family(), &user());
    let short_expiry = now() + 1;
    tokens.access.expires_at = short_expiry;
    store.insert_tokens(tokens.clone()).await.unwrap();
    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_some()
    );

    sleep_past(short_expiry).await;
    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(tokens.refresh_hash)
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn access_token_limit<K: StoreKind>() {
    let limits = StoreLimits {
        access_tokens: 2,
        ..StoreLimits::default()
    };
    let opened = K::open(limits).await;
    let store = &opened.store;
    let first = issued(&family(), &user());
    store.insert_tokens(first.clone()).await.unwrap();
    store
        .insert_tokens(issued(&family(), &user()))
        .await
        .unwrap();

    let third = issued(&family(), &user());
    let error = store.insert_tokens(third.clone()).await.unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    assert!(
        store
            .access_token(third.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(third.refresh_hash)
            .await
            .unwrap()
            .is_none()
    );

    // The limit applies to refresh tokens too, so revoking one access token is not enough.
    store.revoke_access_token(first.access_hash).await.unwrap();
    let error = store.insert_tokens(third.clone()).await.unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");

    store
        .revoke_refresh_token(first.refresh_hash)
        .await
        .unwrap();
    store.insert_tokens(third.clone()).await.unwrap();
    assert!(
        store
            .access_token(third.access_hash)
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn revoked_family_takes_no_tokens<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let family = family();
    store.revoke_family(family.clone()).await.unwrap();

    let late = issued(&family, &user());
    store.insert_tokens(late.clone()).await.unwrap();
    assert!(
        store
            .access_token(late.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(late.refresh_hash)
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn pending_limit_counts_codes<K: StoreKind>() {
    let limits = StoreLimits {
        pending: 2,
        ..StoreLimits::default()
    };
    let opened = K::open(limits).await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let code_hash = hash();
    store
        .exchange_pending_for_code(handle, code_hash, code(family(), user(), now() + 300))
        .await
        .unwrap();
    store.redeem_code(code_hash).await.unwrap();
    store
        .insert_pending(hash(), pending(now() + 300))
        .await
        .unwrap();

    let error = store
        .insert_pending(hash(), pending(now() + 300))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
}

pub(crate) async fn rotation_grace_then_reuse<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let family = family();
    let signed_in = user();
    let tokens = issued(&family, &signed_in);
    store.insert_tokens(tokens.clone()).await.unwrap();
    let rotated_at = now();

    let first = next(&["mcp"]);
    let rotation = store
        .rotate_refresh(tokens.refresh_hash, first.clone(), rotated_at, 30)
        .await
        .unwrap();
    let Rotation::Rotated(grant) = rotation else {
        panic!("expected a rotation, got {rotation:?}");
    };
    // The new refresh token keeps the presented token's scopes; the access token narrows.
    let expected = fixtures::grant(
        &family,
        &signed_in,
        &["mcp", "profile"],
        first.refresh_expires_at,
    );
    assert_grant(&grant, &expected);
    let new_access = store.access_token(first.access_hash).await.unwrap();
    let expected_access = fixtures::grant(&family, &signed_in, &["mcp"], first.access_expires_at);
    assert_grant(&new_access.expect("the new access token"), &expected_access);
    let new_refresh = store.refresh_token(first.refresh_hash).await.unwrap();
    assert_grant(&new_refresh.expect("the new refresh token"), &expected);
    let presented = store.refresh_token(tokens.refresh_hash).await.unwrap();
    assert!(presented.is_some(), "a rotated token stays stored");

    let second = next(&["mcp"]);
    let rotation = store
        .rotate_refresh(tokens.refresh_hash, second.clone(), rotated_at + 29, 30)
        .await
        .unwrap();
    let Rotation::RotatedInGrace(grant) = rotation else {
        panic!("expected a rotation in the grace window, got {rotation:?}");
    };
    let expected = fixtures::grant(
        &family,
        &signed_in,
        &["mcp", "profile"],
        second.refresh_expires_at,
    );
    assert_grant(&grant, &expected);
    assert!(
        store
            .access_token(first.access_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .access_token(second.access_hash)
            .await
            .unwrap()
            .is_some()
    );

    let third = next(&["mcp"]);
    let rotation = store
        .rotate_refresh(tokens.refresh_hash, third.clone(), rotated_at + 31, 30)
        .await
        .unwrap();
    let Rotation::Reused(reused) = rotation else {
        panic!("expected a reuse, got {rotation:?}");
    };
    assert_eq!(reused, family);

    for access in [
        tokens.access_hash,
        first.access_hash,
        second.access_hash,
        third.access_hash,
    ] {
        assert!(store.access_token(access).await.unwrap().is_none());
    }
    for refresh in [
        tokens.refresh_hash,
        first.refresh_hash,
        second.refresh_hash,
        third.refresh_hash,
    ] {
        assert!(store.refresh_token(refresh).await.unwrap().is_none());
    }
}

/// Races `RACERS` rotations of one live refresh token and returns each racer's new tokens
/// with its result.
async fn race_rotations<S: AuthStore>(
    store: &Arc<S>,
    grace_seconds: u64,
) -> (Vec<(NextTokens, Rotation)>, FamilyId) {
    let family = family();
    let tokens = issued(&family, &user());
    store.insert_tokens(tokens.clone()).await.unwrap();
    let presented_at = now();

    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(store);
        let next = next(&["mcp"]);
        racers.push(tokio::spawn(async move {
            let rotation = store
                .rotate_refresh(
                    tokens.refresh_hash,
                    next.clone(),
                    presented_at,
                    grace_seconds,
                )
                .await
                .unwrap();
            (next, rotation)
        }));
    }
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    (results, family)
}

pub(crate) async fn rotation_race_in_grace<K: StoreKind>() {
    let opened = open::<K>().await;
    let (results, _) = race_rotations(&opened.store, 30).await;

    let store = &opened.store;
    let rotated = results
        .iter()
        .filter(|(_, result)| matches!(result, Rotation::Rotated(_)))
        .count();
    let in_grace = results
        .iter()
        .filter(|(_, result)| matches!(result, Rotation::RotatedInGrace(_)))
        .count();
    assert_eq!(rotated, 1, "exactly one rotation: {results:?}");
    assert_eq!(
        in_grace,
        RACERS - 1,
        "the rest in the grace window: {results:?}"
    );
    for (next, _) in &results {
        assert!(
            store
                .access_token(next.access_hash)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .refresh_token(next.refresh_hash)
                .await
                .unwrap()
                .is_some()
        );
    }
}

pub(crate) async fn rotation_race_without_grace<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let (results, family) = race_rotations(store, 0).await;

    // The first loser revokes the family, so the losers after it find the token gone.
    let mut winners = Vec::new();
    let mut reused = 0;
    let mut unknown = 0;
    for result in &results {
        match result {
            (_, Rotation::Rotated(grant)) => winners.push(grant.clone()),
            (_, Rotation::Reused(reused_family)) => {
                assert_eq!(reused_family, &family);
                reused += 1;
            }
            (_, Rotation::Unknown) => unknown += 1,
            (_, Rotation::RotatedInGrace(_)) => panic!("a rotation in a zero grace window"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation: {results:?}");
    assert!(reused >= 1, "a second presentation is a reuse: {results:?}");
    assert_eq!(reused + unknown, RACERS - 1);
    for (next, _) in &results {
        assert!(
            store
                .access_token(next.access_hash)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .refresh_token(next.refresh_hash)
                .await
                .unwrap()
                .is_none()
        );
    }
}

pub(crate) async fn rotation_of_unknown_tokens<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let unknown = store
        .rotate_refresh(hash(), next(&["mcp"]), now(), 30)
        .await
        .unwrap();
    assert!(matches!(unknown, Rotation::Unknown), "{unknown:?}");

    let tokens = issued(&family(), &user());
    store.insert_tokens(tokens.clone()).await.unwrap();
    let past_expiry = tokens.refresh.expires_at;
    let expired = store
        .rotate_refresh(tokens.refresh_hash, next(&["mcp"]), past_expiry, 30)
        .await
        .unwrap();
    assert!(matches!(expired, Rotation::Unknown), "{expired:?}");

    store
        .revoke_family(tokens.refresh.family.clone())
        .await
        .unwrap();
    let revoked = store
        .rotate_refresh(tokens.refresh_hash, next(&["mcp"]), now(), 30)
        .await
        .unwrap();
    assert!(matches!(revoked, Rotation::Unknown), "{revoked:?}");
}

pub(crate) async fn revoke_access_token_only<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let tokens = issued(&family(), &user());
    store.insert_tokens(tokens.clone()).await.unwrap();

    store.revoke_access_token(tokens.access_hash).await.unwrap();
    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(tokens.refresh_hash)
            .await
            .unwrap()
            .is_some()
    );
    let rotation = store
        .rotate_refresh(tokens.refresh_hash, next(&["mcp"]), now(), 30)
        .await
        .unwrap();
    assert!(matches!(rotation, Rotation::Rotated(_)), "{rotation:?}");
    store.revoke_access_token(hash()).await.unwrap();
}

pub(crate) async fn revoke_refresh_token_revokes_family<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let family = family();
    let signed_in = user();
    let tokens = issued(&family, &signed_in);
    store.insert_tokens(tokens.clone()).await.unwrap();
    let rotated = next(&["mcp"]);
    store
        .rotate_refresh(tokens.refresh_hash, rotated.clone(), now(), 30)
        .await
        .unwrap();
    let bystander = issued(&fixtures::family(), &signed_in);
    store.insert_tokens(bystander.clone()).await.unwrap();

    let revoked = store
        .revoke_refresh_token(rotated.refresh_hash)
        .await
        .unwrap();
    assert_eq!(revoked, Some(family));
    for access in [tokens.access_hash, rotated.access_hash] {
        assert!(store.access_token(access).await.unwrap().is_none());
    }
    for refresh in [tokens.refresh_hash, rotated.refresh_hash] {
        assert!(store.refresh_token(refresh).await.unwrap().is_none());
    }
    assert!(
        store
            .access_token(bystander.access_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .refresh_token(bystander.refresh_hash)
            .await
            .unwrap()
            .is_some()
    );

    let again = store
        .revoke_refresh_token(rotated.refresh_hash)
        .await
        .unwrap();
    assert_eq!(again, None);
}

pub(crate) async fn revoke_family_after_replay<K: StoreKind>() {
    let opened = open::<K>().await;
    let store = &opened.store;
    let handle = hash();
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let code_hash = hash();
    let family = family();
    let signed_in = user();
    store
        .exchange_pending_for_code(
            handle,
            code_hash,
            code(family.clone(), signed_in.clone(), now() + 300),
        )
        .await
        .unwrap();
    let CodeRedemption::Redeemed(redeemed) = store.redeem_code(code_hash).await.unwrap() else {
        panic!("the first redemption succeeds");
    };
    let tokens = issued(&redeemed.family, &redeemed.user_token);
    store.insert_tokens(tokens.clone()).await.unwrap();

    let CodeRedemption::Replayed(replayed) = store.redeem_code(code_hash).await.unwrap() else {
        panic!("the second redemption is a replay");
    };
    assert_eq!(replayed, family);
    store.revoke_family(replayed).await.unwrap();
    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(tokens.refresh_hash)
            .await
            .unwrap()
            .is_none()
    );
    store.revoke_family(fixtures::family()).await.unwrap();
}
