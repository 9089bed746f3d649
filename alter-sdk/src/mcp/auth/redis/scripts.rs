//! The Lua scripts behind every store operation that reads and writes in one step.
//!
//! Redis runs a script without interleaving any other command, which is what makes a code
//! redeemed on two replicas at once succeed once, and a refresh token rotated on two replicas
//! at once rotate once. The crate's [`Script`] sends `EVALSHA` and loads the script on
//! `NOSCRIPT`, so a restarted Redis needs no preparation.
//!
//! Scripts that touch a token family build the family's key names from the prefix passed as
//! `ARGV[1]`, because the family is known only once the token is read. Such keys are not
//! declared in `KEYS`, which standalone Redis (and a primary with replicas) accepts and Redis
//! Cluster does not: the store does not support Redis Cluster.
//!
//! Times are Unix seconds. Trimming an index uses the Redis server's clock (`TIME`), because
//! that clock also expires keys. A key that would expire at or before that time is not written.

use ::redis::Script;

/// Functions shared by the scripts, prepended to each.
const PRELUDE: &str = r"
-- How long a revoked family is remembered. A request that redeemed a code stores its tokens
-- right after, so ten minutes is ample.
local REVOKED_FAMILY_SECONDS = 600

-- How old a client with no live record must be before a registration at the client limit may
-- drop it, and how many such clients one registration checks at most.
local IDLE_CLIENT_SECONDS = 86400
local IDLE_CLIENT_BATCH = 1000

local function now_seconds()
  return tonumber(redis.call('TIME')[1])
end

-- Drops the expired members of an expiry-scored index and reports whether one more fits.
local function has_room(index, limit, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  return redis.call('ZCARD', index) < limit
end

-- Sets the expiry of `key` to `at` unless it already expires later.
local function extend_expiry(key, at)
  if redis.call('EXPIRETIME', key) < tonumber(at) then
    redis.call('EXPIREAT', key, at)
  end
end

-- Marks a client as referenced by a record that lives until `at`. The marker outlives every
-- pending authorization, code and token of the client, so a client without one is idle.
local function mark_client_live(prefix, client_id, at)
  local key = prefix .. 'client-live:' .. client_id
  if not redis.call('SET', key, '1', 'NX', 'EXAT', at) then
    extend_expiry(key, at)
  end
end

-- Writes one token, adds it to its family, and keeps the family and its user alive as long
-- as the token. `user` is the sealed user token, or false to keep the stored one. A token of
-- a family revoked in the last few minutes is dropped: a request that redeemed the code just
-- before its replay revoked the family must not bring the family back.
local function store_token(prefix, kind, hash, binding, family, scopes, expires_at, user)
  if redis.call('EXISTS', prefix .. 'revoked:' .. family) == 1 then
    return
  end
  local member = kind .. ':' .. hash
  local key = prefix .. member
  redis.call('HSET', key, 'binding', binding, 'family', family, 'scopes', scopes,
    'expires_at', expires_at)
  redis.call('EXPIREAT', key, expires_at)
  local family_key = prefix .. 'family:' .. family
  redis.call('SADD', family_key, member)
  extend_expiry(family_key, expires_at)
  local user_key = prefix .. 'family-user:' .. family
  if user then
    redis.call('SET', user_key, user, 'KEEPTTL')
  end
  extend_expiry(user_key, expires_at)
  redis.call('ZADD', prefix .. 'index:' .. kind, expires_at, hash)
  mark_client_live(prefix, cjson.decode(binding).client_id, expires_at)
end

-- Deletes every token of a family, the family's member set and its user token, and marks
-- the family revoked for REVOKED_FAMILY_SECONDS.
local function revoke_family(prefix, family)
  local family_key = prefix .. 'family:' .. family
  for _, member in ipairs(redis.call('SMEMBERS', family_key)) do
    redis.call('DEL', prefix .. member)
    local separator = string.find(member, ':', 1, true)
    local kind = string.sub(member, 1, separator - 1)
    redis.call('ZREM', prefix .. 'index:' .. kind, string.sub(member, separator + 1))
  end
  redis.call('DEL', family_key, prefix .. 'family-user:' .. family)
  redis.call('SET', prefix .. 'revoked:' .. family, '1', 'EX', REVOKED_FAMILY_SECONDS)
end

-- Reports whether one more access and one more refresh token fit.
local function has_token_room(prefix, limit, now)
  local access_room = has_room(prefix .. 'index:access', limit, now)
  local refresh_room = has_room(prefix .. 'index:refresh', limit, now)
  return access_room and refresh_room
end
";

/// KEYS: client, clients index. ARGV: record JSON, limit, client id, issued at, prefix.
/// Returns 1 when stored, 0 at the limit. Replacing an existing client is always allowed. At
/// the limit, clients registered more than a day ago that no live record refers to are dropped
/// to make room.
const INSERT_CLIENT: &str = r"
local limit = tonumber(ARGV[2])
local function full()
  return redis.call('EXISTS', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) >= limit
end
if full() then
  local prefix = ARGV[5]
  local idle_before = now_seconds() - IDLE_CLIENT_SECONDS
  local candidates = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', idle_before,
    'LIMIT', 0, IDLE_CLIENT_BATCH)
  for _, client_id in ipairs(candidates) do
    if redis.call('EXISTS', prefix .. 'client-live:' .. client_id) == 0 then
      redis.call('DEL', prefix .. 'client:' .. client_id)
      redis.call('ZREM', KEYS[2], client_id)
    end
  end
end
if full() then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
";

/// KEYS: pending, pending index. ARGV: record JSON, outcome JSON, expires at, limit, handle
/// hash, prefix, client id. Returns 1 when stored (or already expired, so not written), 0 at the limit. The index
/// counts pending authorizations and the codes issued from them, spent ones included.
const INSERT_PENDING: &str = r"
local now = now_seconds()
local room = has_room(KEYS[2], tonumber(ARGV[4]), now)
if not room and redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if tonumber(ARGV[3]) <= now then
  return 1
end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'outcome', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], 'pending:' .. ARGV[5])
mark_client_live(ARGV[6], ARGV[7], ARGV[3])
return 1
";

/// KEYS: pending. ARGV: outcome JSON. Returns 1 when set, 0 when the pending record is gone.
const SET_OUTCOME: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'outcome', ARGV[1])
return 1
";

/// KEYS: pending, code, pending index. ARGV: handle hash, code record JSON, family, code
/// expires at, code hash, prefix, client id. Returns 1 when the pending record was removed and the code stored,
/// 0 when the pending record was already gone.
const EXCHANGE_PENDING: &str = r"
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[3], 'pending:' .. ARGV[1])
if tonumber(ARGV[4]) > now_seconds() then
  redis.call('HSET', KEYS[2], 'record', ARGV[2], 'family', ARGV[3])
  redis.call('EXPIREAT', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[4], 'code:' .. ARGV[5])
  mark_client_live(ARGV[6], ARGV[7], ARGV[4])
end
return 1
";

/// KEYS: pending, pending index. ARGV: handle hash.
const REMOVE_PENDING: &str = r"
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], 'pending:' .. ARGV[1])
return 1
";

/// KEYS: code. Returns `{'redeemed', record}`, `{'replayed', family}` or `{'unknown'}`. A
/// redeemed code keeps its family and expiry but drops its record, which contains the user token.
const REDEEM_CODE: &str = r"
local fields = redis.call('HMGET', KEYS[1], 'record', 'family', 'spent')
if not fields[2] then
  return {'unknown'}
end
if fields[3] then
  return {'replayed', fields[2]}
end
redis.call('HSET', KEYS[1], 'spent', '1')
redis.call('HDEL', KEYS[1], 'record')
return {'redeemed', fields[1]}
";

/// KEYS: access, refresh, access index, refresh index. ARGV: prefix, limit, then for the
/// access token and then the refresh token: hash, binding JSON, family, scopes JSON, expires
/// at, sealed user. Returns 1 when stored, 0 at the token limit, which applies to access and
/// refresh tokens separately.
const INSERT_TOKENS: &str = r"
local prefix = ARGV[1]
local now = now_seconds()
if not has_token_room(prefix, tonumber(ARGV[2]), now) then
  return 0
end
if tonumber(ARGV[7]) > now then
  store_token(prefix, 'access', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
end
if tonumber(ARGV[13]) > now then
  store_token(prefix, 'refresh', ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
end
return 1
";

/// KEYS: access or refresh token. ARGV: prefix. Returns `{binding, family, scopes,
/// expires_at, sealed user}`, or nil when the token or its family is gone.
const READ_TOKEN: &str = r"
local fields = redis.call('HMGET', KEYS[1], 'binding', 'family', 'scopes', 'expires_at')
if not fields[1] then
  return false
end
local user = redis.call('GET', ARGV[1] .. 'family-user:' .. fields[2])
if not user then
  return false
end
return {fields[1], fields[2], fields[3], fields[4], user}
";

/// KEYS: presented refresh token, new access token, new refresh token, access index, refresh
/// index. ARGV: prefix, limit, now, grace seconds, new access hash, new refresh hash, access
/// scopes JSON, access expires at, refresh expires at.
///
/// The new access token gets the requested scopes. The new refresh token keeps the scopes of
/// the presented one, as RFC 6749 (section 6) requires even when the client narrowed the
/// access token's scope.
///
/// Returns `{'rotated' | 'grace', binding, family, refresh scopes JSON, sealed user}` with the
/// new pair stored, `{'reused', family}` with the family revoked, `{'full'}` at the token
/// limit with nothing changed, or `{'unknown'}`.
const ROTATE_REFRESH: &str = r"
local prefix = ARGV[1]
local now = tonumber(ARGV[3])
local fields = redis.call('HMGET', KEYS[1], 'binding', 'family', 'expires_at', 'rotated_at',
  'scopes')
if not fields[1] or tonumber(fields[3]) <= now then
  return {'unknown'}
end
local family = fields[2]
local user = redis.call('GET', prefix .. 'family-user:' .. family)
if not user then
  return {'unknown'}
end
local outcome = 'rotated'
if fields[4] then
  if now < tonumber(fields[4]) + tonumber(ARGV[4]) then
    outcome = 'grace'
  else
    revoke_family(prefix, family)
    return {'reused', family}
  end
end
local server_now = now_seconds()
if not has_token_room(prefix, tonumber(ARGV[2]), server_now) then
  return {'full'}
end
if tonumber(ARGV[8]) > server_now then
  store_token(prefix, 'access', ARGV[5], fields[1], family, ARGV[7], ARGV[8], false)
end
if tonumber(ARGV[9]) > server_now then
  store_token(prefix, 'refresh', ARGV[6], fields[1], family, fields[5], ARGV[9], false)
end
if outcome == 'rotated' then
  redis.call('HSET', KEYS[1], 'rotated_at', now)
end
return {outcome, fields[1], family, fields[5], user}
";

/// KEYS: access token, access index. ARGV: prefix, token hash.
const REVOKE_ACCESS: &str = r"
local family = redis.call('HGET', KEYS[1], 'family')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if family then
  redis.call('SREM', ARGV[1] .. 'family:' .. family, 'access:' .. ARGV[2])
end
return 1
";

/// KEYS: refresh token. ARGV: prefix. Returns the family, or nil when the token is unknown.
const REVOKE_REFRESH: &str = r"
local family = redis.call('HGET', KEYS[1], 'family')
if not family then
  return false
end
revoke_family(ARGV[1], family)
return family
";

/// ARGV: prefix, family.
const REVOKE_FAMILY: &str = r"
revoke_family(ARGV[1], ARGV[2])
return 1
";

/// Every script, compiled once per store.
pub(super) struct Scripts {
    pub(super) insert_client: Script,
    pub(super) insert_pending: Script,
    pub(super) set_outcome: Script,
    pub(super) exchange_pending: Script,
    pub(super) remove_pending: Script,
    pub(super) redeem_code: Script,
    pub(super) insert_tokens: Script,
    pub(super) read_token: Script,
    pub(super) rotate_refresh: Script,
    pub(super) revoke_access: Script,
    pub(super) revoke_refresh: Script,
    pub(super) revoke_family: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            insert_client: with_prelude(INSERT_CLIENT),
            insert_pending: with_prelude(INSERT_PENDING),
            set_outcome: with_prelude(SET_OUTCOME),
            exchange_pending: with_prelude(EXCHANGE_PENDING),
            remove_pending: with_prelude(REMOVE_PENDING),
            redeem_code: with_prelude(REDEEM_CODE),
            insert_tokens: with_prelude(INSERT_TOKENS),
            read_token: with_prelude(READ_TOKEN),
            rotate_refresh: with_prelude(ROTATE_REFRESH),
            revoke_access: with_prelude(REVOKE_ACCESS),
            revoke_refresh: with_prelude(REVOKE_REFRESH),
            revoke_family: with_prelude(REVOKE_FAMILY),
        }
    }
}

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}
