//! Sign-in and approval waits against the stand-in backend raise a zero poll interval to the
//! 10 ms floor instead of polling in a busy loop. The connect wait's case is in `vault_connect`.

use std::time::Duration;

use alter::Error;
use alter_tests::stand_in::fixtures::{bounded, vault_builder};
use alter_tests::stand_in::{Reply, StandIn};
use serde_json::json;

const APPROVAL_ID: &str = "0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21";
const WAIT: Duration = Duration::from_millis(300);

/// Returns the maximum number of polls in a wait of [`WAIT`] with at least 10 ms between them.
fn max_polls() -> usize {
    usize::try_from(WAIT.as_millis() / 10).unwrap() + 1
}

#[tokio::test]
async fn sign_in_zero_interval_raised() {
    let backend = StandIn::backend().await;
    backend.script(
        "/sdk/auth/poll",
        Reply::json(200, &json!({"status": "pending"})),
    );
    let vault = vault_builder(&backend).build().unwrap();
    let error = bounded(
        vault
            .poll_auth_session("as_stand_in_session")
            .poll_interval(Duration::ZERO)
            .timeout(WAIT),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::SignIn(_)), "{error:?}");
    let polls = backend.received_at("/sdk/auth/poll").len();
    assert!(polls <= max_polls(), "polled {polls} times");
    assert!(polls >= 2, "polled {polls} times");
}

#[tokio::test]
async fn approval_zero_interval_raised() {
    let backend = StandIn::backend().await;
    let path = format!("/sdk/approvals/{APPROVAL_ID}");
    backend.script(
        &path,
        Reply::json(
            200,
            &json!({"approval_id": APPROVAL_ID, "status": "pending", "has_result": false}),
        ),
    );
    let vault = vault_builder(&backend).build().unwrap();
    let error = bounded(
        vault
            .wait_for_approval(APPROVAL_ID)
            .poll_interval(Duration::ZERO)
            .timeout(WAIT),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Approval(_)), "{error:?}");
    let polls = backend.received_at(&path).len();
    assert!(polls <= max_polls(), "polled {polls} times");
    assert!(polls >= 2, "polled {polls} times");
}
