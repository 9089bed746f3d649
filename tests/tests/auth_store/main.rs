//! The authorization server's stores: one contract every store meets, run against each store,
//! and the Redis store's own guarantees (secrets at rest, key prefixes, outages) against a
//! real `redis-server` on `127.0.0.1`.

mod contract;
mod fixtures;
mod memory_kind;
mod redis_kind;
mod redis_store;

use contract::contract_tests;

// The same contract, against the Redis store and the in-memory store.
contract_tests!(
    redis_contract: crate::redis_kind::Redis,
    memory_contract: crate::memory_kind::Memory;
    [
        client_round_trip,
        client_limit,
        client_limit_drops_idle_clients,
        pending_round_trip,
        pending_outcome,
        pending_expired_is_absent,
        pending_limit_frees_expired,
        pending_remove,
        exchange_race_issues_one_code,
        code_single_use_under_race,
        code_expired_is_unknown,
        tokens_round_trip,
        expired_tokens_are_absent,
        tokens_expire_by_time,
        access_token_limit,
        rotation_grace_then_reuse,
        rotation_race_in_grace,
        rotation_race_without_grace,
        rotation_of_unknown_tokens,
        revoke_access_token_only,
        revoke_refresh_token_revokes_family,
        revoke_family_after_replay,
        revoked_family_takes_no_tokens,
        pending_limit_counts_codes,
    ]
);
