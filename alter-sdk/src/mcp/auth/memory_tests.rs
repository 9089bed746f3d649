use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::identity::UserToken;

const START: UnixSeconds = 1_700_000_000;

struct Fixture {
    store: Arc<MemoryStore>,
    now: Arc<AtomicU64>,
}

impl Fixture {
    fn new() -> Self {
        Self::with_limits(StoreLimits::default())
    }

    fn with_limits(limits: StoreLimits) -> Self {
        let now = Arc::new(AtomicU64::new(START));
        Self {
            store: Arc::new(MemoryStore::with_manual_clock(limits, now.clone())),
            now,
        }
    }

    fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    fn now(&self) -> UnixSeconds {
        self.now.load(Ordering::SeqCst)
    }
}

fn client(client_id: &str, issued_at: UnixSeconds) -> RegisteredClient {
    RegisteredClient {
        client_id: client_id.to_owned(),
        client_id_issued_at: issued_at,
        metadata: serde_json::Map::new(),
        redirect_uris: vec!["http://127.0.0.1/callback".to_owned()],
    }
}

fn pending(expires_at: UnixSeconds) -> PendingAuthorization {
    PendingAuthorization {
        client_id: "client-1".to_owned(),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        state: Some("state-1".to_owned()),
        code_challenge: "challenge".to_owned(),
        resource: "http://127.0.0.1:8000/mcp".to_owned(),
        scopes: vec!["mcp".to_owned()],
        sign_in_session: UserToken::from("session-1"),
        sign_in_url: "http://127.0.0.1:9000/sign-in".to_owned(),
        created_at: START,
        expires_at,
        outcome: SignInOutcome::Pending,
    }
}

fn code(family: &str, expires_at: UnixSeconds) -> AuthorizationCode {
    AuthorizationCode {
        client_id: "client-1".to_owned(),
        redirect_uri: "http://127.0.0.1/callback".to_owned(),
        code_challenge: "challenge".to_owned(),
        resource: "http://127.0.0.1:8000/mcp".to_owned(),
        scopes: vec!["mcp".to_owned()],
        user_token: UserToken::from("user-1"),
        family: FamilyId(family.to_owned()),
        expires_at,
    }
}

fn grant(family: &str, scopes: &[&str], expires_at: UnixSeconds) -> TokenGrant {
    TokenGrant {
        client_id: "client-1".to_owned(),
        resource: "http://127.0.0.1:8000/mcp".to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        user_token: UserToken::from("user-1"),
        family: FamilyId(family.to_owned()),
        expires_at,
    }
}

fn tokens(access: &str, refresh: &str, family: &str) -> IssuedTokens {
    IssuedTokens {
        access_hash: SecretHash::of(access),
        access: grant(family, &["mcp"], START + 3600),
        refresh_hash: SecretHash::of(refresh),
        refresh: grant(family, &["mcp"], START + 86_400),
    }
}

fn next(access: &str, refresh: &str, now: UnixSeconds) -> NextTokens {
    NextTokens {
        access_hash: SecretHash::of(access),
        refresh_hash: SecretHash::of(refresh),
        scopes: vec!["mcp".to_owned()],
        access_expires_at: now + 3600,
        refresh_expires_at: now + 86_400,
    }
}

#[tokio::test]
async fn client_round_trip() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_client(client("c1", START))
        .await
        .unwrap();
    let found = fixture.store.client("c1").await.unwrap().unwrap();
    assert_eq!(found.client_id, "c1");
    assert!(fixture.store.client("c2").await.unwrap().is_none());
}

#[tokio::test]
async fn client_limit_reports_full() {
    let fixture = Fixture::with_limits(StoreLimits {
        clients: 2,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_client(client("c1", START))
        .await
        .unwrap();
    fixture
        .store
        .insert_client(client("c2", START))
        .await
        .unwrap();
    let error = fixture.store.insert_client(client("c3", START)).await;
    assert!(matches!(error, Err(StoreError::Full(_))), "{error:?}");
}

#[tokio::test]
async fn idle_client_makes_room() {
    let fixture = Fixture::with_limits(StoreLimits {
        clients: 2,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_client(client("idle", START))
        .await
        .unwrap();
    fixture
        .store
        .insert_client(client("client-1", START))
        .await
        .unwrap();
    // `client-1` keeps a live refresh token; `idle` has nothing.
    let mut live = tokens("at", "rt", "f1");
    live.refresh.expires_at = START + 2 * IDLE_CLIENT_SECONDS;
    fixture.store.insert_tokens(live).await.unwrap();
    fixture.advance(IDLE_CLIENT_SECONDS);
    fixture
        .store
        .insert_client(client("new", START))
        .await
        .unwrap();
    assert!(fixture.store.client("idle").await.unwrap().is_none());
    assert!(fixture.store.client("client-1").await.unwrap().is_some());
    assert!(fixture.store.client("new").await.unwrap().is_some());
}

#[tokio::test]
async fn young_client_is_kept_at_limit() {
    let fixture = Fixture::with_limits(StoreLimits {
        clients: 1,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_client(client("c1", START))
        .await
        .unwrap();
    fixture.advance(IDLE_CLIENT_SECONDS - 1);
    let error = fixture.store.insert_client(client("c2", START)).await;
    assert!(matches!(error, Err(StoreError::Full(_))), "{error:?}");
    assert!(fixture.store.client("c1").await.unwrap().is_some());
}

#[tokio::test]
async fn pending_expires() {
    let fixture = Fixture::new();
    let handle = SecretHash::of("handle");
    fixture
        .store
        .insert_pending(handle, pending(START + 10))
        .await
        .unwrap();
    assert!(fixture.store.pending(handle).await.unwrap().is_some());
    fixture.advance(10);
    assert!(fixture.store.pending(handle).await.unwrap().is_none());
    let updated = fixture
        .store
        .set_outcome(handle, SignInOutcome::Failed("expired".to_owned()))
        .await
        .unwrap();
    assert!(!updated);
}

#[tokio::test]
async fn set_outcome_updates_pending() {
    let fixture = Fixture::new();
    let handle = SecretHash::of("handle");
    fixture
        .store
        .insert_pending(handle, pending(START + 300))
        .await
        .unwrap();
    let updated = fixture
        .store
        .set_outcome(handle, SignInOutcome::SignedIn(UserToken::from("user-1")))
        .await
        .unwrap();
    assert!(updated);
    let stored = fixture.store.pending(handle).await.unwrap().unwrap();
    assert!(matches!(stored.outcome, SignInOutcome::SignedIn(_)));
}

#[tokio::test]
async fn pending_limit_counts_codes() {
    let fixture = Fixture::with_limits(StoreLimits {
        pending: 2,
        ..StoreLimits::default()
    });
    let first = SecretHash::of("first");
    fixture
        .store
        .insert_pending(first, pending(START + 300))
        .await
        .unwrap();
    let exchanged = fixture
        .store
        .exchange_pending_for_code(first, SecretHash::of("code"), code("f1", START + 300))
        .await
        .unwrap();
    assert!(exchanged);
    fixture
        .store
        .insert_pending(SecretHash::of("second"), pending(START + 300))
        .await
        .unwrap();
    let error = fixture
        .store
        .insert_pending(SecretHash::of("third"), pending(START + 300))
        .await;
    assert!(matches!(error, Err(StoreError::Full(_))), "{error:?}");

    fixture.advance(300);
    fixture
        .store
        .insert_pending(SecretHash::of("third"), pending(START + 600))
        .await
        .unwrap();
}

#[tokio::test]
async fn exchange_issues_one_code() {
    let fixture = Fixture::new();
    let handle = SecretHash::of("handle");
    fixture
        .store
        .insert_pending(handle, pending(START + 300))
        .await
        .unwrap();
    let first = fixture
        .store
        .exchange_pending_for_code(handle, SecretHash::of("code-a"), code("f1", START + 300))
        .await
        .unwrap();
    let second = fixture
        .store
        .exchange_pending_for_code(handle, SecretHash::of("code-b"), code("f2", START + 300))
        .await
        .unwrap();
    assert!(first);
    assert!(!second);
    let redemption = fixture.store.redeem_code(SecretHash::of("code-b")).await;
    assert!(matches!(redemption, Ok(CodeRedemption::Unknown)));
    assert!(fixture.store.pending(handle).await.unwrap().is_none());
}

#[tokio::test]
async fn exchange_of_expired_pending_fails() {
    let fixture = Fixture::new();
    let handle = SecretHash::of("handle");
    fixture
        .store
        .insert_pending(handle, pending(START + 5))
        .await
        .unwrap();
    fixture.advance(5);
    let exchanged = fixture
        .store
        .exchange_pending_for_code(handle, SecretHash::of("code"), code("f1", START + 300))
        .await
        .unwrap();
    assert!(!exchanged);
}

#[tokio::test]
async fn remove_pending_forgets_it() {
    let fixture = Fixture::new();
    let handle = SecretHash::of("handle");
    fixture
        .store
        .insert_pending(handle, pending(START + 300))
        .await
        .unwrap();
    fixture.store.remove_pending(handle).await.unwrap();
    assert!(fixture.store.pending(handle).await.unwrap().is_none());
}

async fn store_code(fixture: &Fixture, code_secret: &str, family: &str, expires_at: UnixSeconds) {
    let handle = SecretHash::of(&format!("handle-{code_secret}"));
    fixture
        .store
        .insert_pending(handle, pending(START + 300))
        .await
        .unwrap();
    let exchanged = fixture
        .store
        .exchange_pending_for_code(
            handle,
            SecretHash::of(code_secret),
            code(family, expires_at),
        )
        .await
        .unwrap();
    assert!(exchanged);
}

#[tokio::test]
async fn code_redeems_once_then_replays() {
    let fixture = Fixture::new();
    store_code(&fixture, "code", "f1", START + 300).await;
    let hash = SecretHash::of("code");
    let first = fixture.store.redeem_code(hash).await.unwrap();
    let CodeRedemption::Redeemed(redeemed) = first else {
        panic!("expected a redeemed code, got {first:?}");
    };
    assert_eq!(redeemed.family, FamilyId("f1".to_owned()));
    let second = fixture.store.redeem_code(hash).await.unwrap();
    assert!(
        matches!(&second, CodeRedemption::Replayed(family) if family.0 == "f1"),
        "{second:?}"
    );
}

#[tokio::test]
async fn expired_code_is_unknown() {
    let fixture = Fixture::new();
    store_code(&fixture, "code", "f1", START + 300).await;
    fixture.advance(300);
    let redemption = fixture.store.redeem_code(SecretHash::of("code")).await;
    assert!(matches!(redemption, Ok(CodeRedemption::Unknown)));
}

#[tokio::test]
async fn spent_code_forgotten_after_expiry() {
    let fixture = Fixture::new();
    store_code(&fixture, "code", "f1", START + 300).await;
    let hash = SecretHash::of("code");
    fixture.store.redeem_code(hash).await.unwrap();
    fixture.advance(300);
    let redemption = fixture.store.redeem_code(hash).await;
    assert!(matches!(redemption, Ok(CodeRedemption::Unknown)));
}

#[tokio::test]
async fn tokens_round_trip_and_expire() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at", "rt", "f1"))
        .await
        .unwrap();
    let access = fixture.store.access_token(SecretHash::of("at")).await;
    assert_eq!(access.unwrap().unwrap().family, FamilyId("f1".to_owned()));
    let refresh = fixture.store.refresh_token(SecretHash::of("rt")).await;
    assert!(refresh.unwrap().is_some());
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("rt"))
            .await
            .unwrap()
            .is_none()
    );

    fixture.advance(3600);
    let access = fixture.store.access_token(SecretHash::of("at")).await;
    assert!(access.unwrap().is_none());
    let refresh = fixture.store.refresh_token(SecretHash::of("rt")).await;
    assert!(refresh.unwrap().is_some());
}

#[tokio::test]
async fn token_limit_reports_full() {
    let fixture = Fixture::with_limits(StoreLimits {
        access_tokens: 1,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    let error = fixture
        .store
        .insert_tokens(tokens("at2", "rt2", "f2"))
        .await;
    assert!(matches!(error, Err(StoreError::Full(_))), "{error:?}");
}

#[tokio::test]
async fn expired_tokens_make_room() {
    let fixture = Fixture::with_limits(StoreLimits {
        access_tokens: 1,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture.advance(86_400);
    let mut second = tokens("at2", "rt2", "f2");
    second.access.expires_at = fixture.now() + 3600;
    second.refresh.expires_at = fixture.now() + 86_400;
    fixture.store.insert_tokens(second).await.unwrap();
    let access = fixture.store.access_token(SecretHash::of("at2")).await;
    assert!(access.unwrap().is_some());
}

#[tokio::test]
async fn rotation_then_reuse_revokes_family() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    let rt1 = SecretHash::of("rt1");
    let now = fixture.now();
    let rotated = fixture
        .store
        .rotate_refresh(rt1, next("at2", "rt2", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
    assert!(
        fixture
            .store
            .refresh_token(SecretHash::of("rt2"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at2"))
            .await
            .unwrap()
            .is_some()
    );

    fixture.advance(30);
    let now = fixture.now();
    let reused = fixture
        .store
        .rotate_refresh(rt1, next("at3", "rt3", now), now, 30)
        .await
        .unwrap();
    assert!(
        matches!(&reused, Rotation::Reused(family) if family.0 == "f1"),
        "{reused:?}"
    );
    for token in ["at1", "at2", "at3"] {
        let access = fixture.store.access_token(SecretHash::of(token)).await;
        assert!(access.unwrap().is_none(), "{token} still live");
    }
    for token in ["rt1", "rt2", "rt3"] {
        let refresh = fixture.store.refresh_token(SecretHash::of(token)).await;
        assert!(refresh.unwrap().is_none(), "{token} still stored");
    }
}

#[tokio::test]
async fn rotation_in_grace_keeps_siblings() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    let rt1 = SecretHash::of("rt1");
    let now = fixture.now();
    let first = fixture
        .store
        .rotate_refresh(rt1, next("at2", "rt2", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(first, Rotation::Rotated(_)), "{first:?}");

    fixture.advance(29);
    let now = fixture.now();
    let second = fixture
        .store
        .rotate_refresh(rt1, next("at2b", "rt2b", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(second, Rotation::RotatedInGrace(_)), "{second:?}");
    for token in ["rt2", "rt2b"] {
        let refresh = fixture.store.refresh_token(SecretHash::of(token)).await;
        assert!(refresh.unwrap().is_some(), "{token} not stored");
    }

    // The grace window runs from the first rotation, not from the last.
    fixture.advance(1);
    let now = fixture.now();
    let third = fixture
        .store
        .rotate_refresh(rt1, next("at2c", "rt2c", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(third, Rotation::Reused(_)), "{third:?}");
}

#[tokio::test]
async fn zero_grace_treats_second_use_as_reuse() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    let rt1 = SecretHash::of("rt1");
    let now = fixture.now();
    fixture
        .store
        .rotate_refresh(rt1, next("at2", "rt2", now), now, 0)
        .await
        .unwrap();
    let second = fixture
        .store
        .rotate_refresh(rt1, next("at3", "rt3", now), now, 0)
        .await
        .unwrap();
    assert!(matches!(second, Rotation::Reused(_)), "{second:?}");
}

#[tokio::test]
async fn rotation_narrows_access_scopes_only() {
    let fixture = Fixture::new();
    let mut issued = tokens("at1", "rt1", "f1");
    issued.refresh.scopes = vec!["read".to_owned(), "write".to_owned()];
    fixture.store.insert_tokens(issued).await.unwrap();
    let now = fixture.now();
    let mut narrowed = next("at2", "rt2", now);
    narrowed.scopes = vec!["read".to_owned()];
    let rotated = fixture
        .store
        .rotate_refresh(SecretHash::of("rt1"), narrowed, now, 30)
        .await
        .unwrap();
    let Rotation::Rotated(refresh) = rotated else {
        panic!("expected a rotation, got {rotated:?}");
    };
    assert_eq!(refresh.scopes, ["read", "write"]);
    let access = fixture.store.access_token(SecretHash::of("at2")).await;
    assert_eq!(access.unwrap().unwrap().scopes, ["read"]);
    let stored = fixture.store.refresh_token(SecretHash::of("rt2")).await;
    assert_eq!(stored.unwrap().unwrap().scopes, ["read", "write"]);
}

#[tokio::test]
async fn rotation_of_unknown_token() {
    let fixture = Fixture::new();
    let now = fixture.now();
    let rotation = fixture
        .store
        .rotate_refresh(SecretHash::of("nope"), next("at", "rt", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(rotation, Rotation::Unknown), "{rotation:?}");
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn rotation_of_expired_token() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture.advance(86_400);
    let now = fixture.now();
    let rotation = fixture
        .store
        .rotate_refresh(SecretHash::of("rt1"), next("at2", "rt2", now), now, 30)
        .await
        .unwrap();
    assert!(matches!(rotation, Rotation::Unknown), "{rotation:?}");
}

#[tokio::test]
async fn full_store_leaves_token_unrotated() {
    let fixture = Fixture::with_limits(StoreLimits {
        access_tokens: 2,
        ..StoreLimits::default()
    });
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture
        .store
        .insert_tokens(tokens("other-at", "other-rt", "f2"))
        .await
        .unwrap();
    let now = fixture.now();
    let rt1 = SecretHash::of("rt1");
    let error = fixture
        .store
        .rotate_refresh(rt1, next("at2", "rt2", now), now, 0)
        .await;
    assert!(matches!(error, Err(StoreError::Full(_))), "{error:?}");

    // The failed attempt did not mark the token rotated: once there is room, presenting it
    // again rotates it instead of being taken for a reuse.
    fixture
        .store
        .revoke_family(FamilyId("f2".to_owned()))
        .await
        .unwrap();
    let rotation = fixture
        .store
        .rotate_refresh(rt1, next("at3", "rt3", now), now, 0)
        .await
        .unwrap();
    assert!(matches!(rotation, Rotation::Rotated(_)), "{rotation:?}");
}

#[tokio::test]
async fn concurrent_rotations_all_succeed_in_grace() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    let now = fixture.now();
    let mut tasks = Vec::new();
    for i in 0..5 {
        let store = fixture.store.clone();
        tasks.push(tokio::spawn(async move {
            let next = next(&format!("at-{i}"), &format!("rt-{i}"), now);
            store
                .rotate_refresh(SecretHash::of("rt1"), next, now, 30)
                .await
                .unwrap()
        }));
    }
    let mut first_rotations = 0;
    for task in tasks {
        match task.await.unwrap() {
            Rotation::Rotated(_) => first_rotations += 1,
            Rotation::RotatedInGrace(_) => {}
            other => panic!("expected a rotation, got {other:?}"),
        }
    }
    assert_eq!(first_rotations, 1);
    for i in 0..5 {
        let refresh = fixture
            .store
            .refresh_token(SecretHash::of(&format!("rt-{i}")))
            .await;
        assert!(refresh.unwrap().is_some(), "rt-{i} not stored");
    }
}

#[tokio::test]
async fn revoke_refresh_revokes_family() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture
        .store
        .insert_tokens(tokens("other-at", "other-rt", "f2"))
        .await
        .unwrap();
    let family = fixture
        .store
        .revoke_refresh_token(SecretHash::of("rt1"))
        .await
        .unwrap();
    assert_eq!(family, Some(FamilyId("f1".to_owned())));
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        fixture
            .store
            .refresh_token(SecretHash::of("rt1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("other-at"))
            .await
            .unwrap()
            .is_some()
    );
    let unknown = fixture
        .store
        .revoke_refresh_token(SecretHash::of("rt1"))
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

#[tokio::test]
async fn revoke_access_keeps_refresh() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture
        .store
        .revoke_access_token(SecretHash::of("at1"))
        .await
        .unwrap();
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        fixture
            .store
            .refresh_token(SecretHash::of("rt1"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn revoked_family_drops_later_tokens() {
    let fixture = Fixture::new();
    fixture
        .store
        .revoke_family(FamilyId("f1".to_owned()))
        .await
        .unwrap();
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at1"))
            .await
            .unwrap()
            .is_none()
    );

    fixture.advance(REVOKED_FAMILY_SECONDS);
    let mut later = tokens("at2", "rt2", "f1");
    later.access.expires_at = fixture.now() + 3600;
    later.refresh.expires_at = fixture.now() + 86_400;
    fixture.store.insert_tokens(later).await.unwrap();
    assert!(
        fixture
            .store
            .access_token(SecretHash::of("at2"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn sweep_drops_expired_records() {
    let fixture = Fixture::new();
    fixture
        .store
        .insert_pending(SecretHash::of("handle"), pending(START + 300))
        .await
        .unwrap();
    store_code(&fixture, "code", "f0", START + 300).await;
    fixture
        .store
        .insert_tokens(tokens("at1", "rt1", "f1"))
        .await
        .unwrap();
    fixture.store.sweep(START + 86_400).await.unwrap();
    let state = fixture.store.lock();
    assert!(state.pending.is_empty());
    assert!(state.codes.is_empty());
    assert!(state.access.is_empty());
    assert!(state.refresh.is_empty());
    assert!(state.families.is_empty());
}

#[test]
fn debug_shows_counts_only() {
    let store = MemoryStore::new();
    let debug = format!("{store:?}");
    assert!(debug.contains("access_tokens: 0"), "{debug}");
}
