//! The service layer: validation and the execute-once work (clock, randomness, password
//! hashing) done on the receiving node before a command is proposed to the log.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use roost_core::query;
use roost_core::text::{self, Limit};
use roost_raft::Applied;
use roost_types::{Command, Id, Outcome, Request, Role};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The response header naming the log index a write was applied at. A client that sends it
/// back as `X-Roost-Min-Index` reads its own writes on any node.
pub const INDEX_HEADER: HeaderName = HeaderName::from_static("x-roost-index");
pub const MIN_INDEX_HEADER: HeaderName = HeaderName::from_static("x-roost-min-index");

/// Longest password accepted (argon2 takes more, but nobody needs more).
pub const MAX_PASSWORD: usize = 1024;
pub const MIN_PASSWORD: usize = 8;
/// A display name: one line of 30 characters, as on Mastodon.
pub const DISPLAY_NAME: Limit = Limit::chars(30);
/// A bio: 500 characters, as on Mastodon.
pub const NOTE: Limit = Limit::chars(500);
/// A profile field's name or value: 255 characters, as on Mastodon.
pub const PROFILE_FIELD: Limit = Limit::chars(roost_types::MAX_PROFILE_FIELD_CHARS);
/// A poll option's bytes (its length in characters is `MAX_POLL_OPTION_CHARS`, counted as
/// graphemes: a grapheme may be many bytes).
pub const POLL_OPTION_BYTES: usize = 200;

/// The wall clock in milliseconds; read only here, before proposing.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Proposes a command stamped with this node's clock; a refusal becomes the matching error.
///
/// Commands other than new posts are first dry-run against the local state, so that one the
/// state machine would refuse is answered at once and never reaches the log. Posts are
/// validated by their handler instead: their fan-out makes a dry run as costly as the real one.
/// The state machine still decides: it refuses whatever changed in between, identically on
/// every node.
pub async fn propose(state: &AppState, command: Command) -> ApiResult<Applied> {
    let req = Request { at: now_ms(), command };
    if !matches!(req.command, Command::CreateStatus(_)) {
        let view = state.node().read()?;
        let mut dry = roost_core::kv::Overlay::new(&view);
        if let Outcome::Rejected(r) = roost_core::apply(&mut dry, &req, &mut roost_core::effects::NoEffects)? {
            return Err(ApiError::from_rejection(r));
        }
    }
    let applied = state.node().propose(req).await?;
    match applied.outcome {
        Outcome::Rejected(r) => Err(ApiError::from_rejection(r)),
        Outcome::Done { .. } => Ok(applied),
    }
}

/// The protocol the cluster has activated: what commands may be proposed (see
/// `roost_types::PROTOCOL`). Use cases whose command changed propose the older one while a
/// rolling upgrade is under way.
pub fn protocol(state: &AppState) -> ApiResult<u32> {
    Ok(roost_core::protocol::active(&state.node().read()?)?)
}

/// Records that a token is in use, at most about once a day per token (so that the least
/// recently used are the ones pruned when an account or app holds too many). The write is
/// proposed in the background: the request that used the token does not wait for it.
pub fn note_use(state: &AppState, token_hash: [u8; 32], token: &roost_core::model::Token) {
    let now = now_ms();
    if now.saturating_sub(token.last_used) < roost_types::TOKEN_TOUCH_INTERVAL_MS {
        return;
    }
    if !state.touching().start(token_hash) {
        return; // a touch of this token is on its way already
    }
    let state = state.clone();
    tokio::spawn(async move {
        if protocol(&state).is_ok_and(|v| v >= 2) {
            let req = Request { at: now_ms(), command: Command::TouchToken { token_hash } };
            if let Err(e) = state.node().propose(req).await {
                tracing::debug!("recording a token's use: {e}");
            }
        }
        state.touching().done(&token_hash);
    });
}

/// Tokens whose use is being recorded, so that a burst of requests proposes one touch.
#[derive(Default)]
pub struct Touching(std::sync::Mutex<std::collections::HashSet<[u8; 32]>>);

impl Touching {
    /// Most touches in flight at once; beyond, uses go unrecorded until some finish.
    const MAX: usize = 10_000;

    fn start(&self, hash: [u8; 32]) -> bool {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.len() < Self::MAX && set.insert(hash)
    }

    fn done(&self, hash: &[u8; 32]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(hash);
    }
}

/// The ID a successful command created.
pub fn created_id(applied: &Applied) -> ApiResult<Id> {
    match applied.outcome {
        Outcome::Done { id: Some(id) } => Ok(id),
        _ => Err(ApiError::Internal("the command created nothing".into())),
    }
}

/// A write's response: the body plus the log index header.
pub struct Written<T>(pub T, pub u64);

impl<T: IntoResponse> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        let mut resp = self.0.into_response();
        resp.headers_mut().insert(INDEX_HEADER, HeaderValue::from(self.1));
        resp
    }
}

/// 256 random bits as 64 hex characters, for tokens and client credentials.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where argon2 runs: on blocking threads, a bounded number at a time, with a bounded queue.
/// Each hash takes tens of milliseconds of a core; without a bound, a flood of sign-in attempts
/// (even wrong ones, which cost as much) would take every core from everyone else.
pub struct PasswordWork {
    running: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Default for PasswordWork {
    fn default() -> PasswordWork {
        // Half the cores at most (one on a two-core machine): the rest serve reads and writes.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordWork::new((cores / 2).max(1))
    }
}

/// One waiting check, counted until it runs or is dropped (its client went away).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl PasswordWork {
    /// Password checks that may wait for a turn; beyond, a check is refused at once (429).
    pub const MAX_WAITING: usize = 32;

    fn new(at_once: usize) -> PasswordWork {
        PasswordWork {
            running: std::sync::Arc::new(tokio::sync::Semaphore::new(at_once)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Runs a check when a turn comes, refusing it at once if too many wait (password checks
    /// are what a stranger can ask for by the thousand). A check whose caller goes away stops
    /// counting as waiting.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        use std::sync::atomic::Ordering;
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= Self::MAX_WAITING {
            return Err(ApiError::TooManyRequests);
        }
        let permit = self.running.clone().acquire_owned().await;
        drop(waiting);
        self.spawn(permit, work).await
    }

    /// Runs a hash when a turn comes, however many wait: hashing a new password follows a check
    /// that bounds who may ask (the operator, an invite's holder, a signed-in member).
    async fn run_queued<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let permit = self.running.clone().acquire_owned().await;
        self.spawn(permit, work).await
    }

    /// The work on a blocking thread, holding its turn until it is done there (even if the
    /// caller stops waiting for it).
    async fn spawn<T: Send + 'static>(
        &self,
        permit: Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let permit = permit.map_err(|e| ApiError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// Hashes a password with argon2id (see [`PasswordWork`]).
pub async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    state
        .password_work()
        .run_queued(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Checks a password against a stored hash (see [`PasswordWork`]).
pub async fn verify_password(state: &AppState, hash: String, password: String) -> ApiResult<bool> {
    state
        .password_work()
        .run(move || match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
}

/// Checks a login (username or email) and password from a client address, counting failures
/// against the pair (see `limits::SignInGuard`). The account on success; `None` for a wrong
/// login or password, with the same effort either way. A suspended account is refused (403).
pub async fn sign_in(
    state: &AppState,
    login: &str,
    password: String,
    from: std::net::IpAddr,
) -> ApiResult<Option<roost_core::model::Account>> {
    state.sign_ins().check(login, from)?;
    if password.len() > MAX_PASSWORD {
        return Ok(None);
    }
    let found = {
        let view = state.node().read()?;
        if login.contains('@') {
            query::account_by_email(&view, login)?
        } else {
            query::account_by_username(&view, login)?
        }
    };
    let Some(account) = found else {
        // Spend the same effort as a real check, so timing does not reveal usernames.
        let _ = verify_password(state, DUMMY_HASH.to_string(), password).await?;
        state.sign_ins().failed(login, from);
        return Ok(None);
    };
    if !verify_password(state, account.password_hash.clone(), password).await? {
        state.sign_ins().failed(login, from);
        return Ok(None);
    }
    state.sign_ins().succeeded(login, from);
    if query::suspended(&state.node().read()?, account.id)? {
        return Err(ApiError::Forbidden("This account is suspended".into()));
    }
    Ok(Some(account))
}

/// Checks a signed-in member's current password before a change that needs it, throttled like
/// a sign-in (a stolen session must not be a way to guess the password).
pub async fn confirm_password(
    state: &AppState,
    account: &roost_core::model::Account,
    password: String,
    from: std::net::IpAddr,
) -> ApiResult<bool> {
    state.sign_ins().check(&account.username, from)?;
    let ok = verify_password(state, account.password_hash.clone(), password).await?;
    if ok {
        state.sign_ins().succeeded(&account.username, from);
    } else {
        state.sign_ins().failed(&account.username, from);
    }
    Ok(ok)
}

/// An argon2id hash of a random password, checked against when the account does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4N7uDBcGNX6r1Dh7N2EmqRjdfuSNVl1DXg2iBDmK6Wk";

/// What an operator or an invite supplies to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// Refuses a string beyond its limit, naming the field.
pub fn limited(field: &str, s: &str, limit: Limit) -> ApiResult<()> {
    if limit.admits(s) {
        return Ok(());
    }
    Err(ApiError::unprocessable(format!(
        "Validation failed: {field} is too long (at most {} characters and {} bytes)",
        limit.chars, limit.bytes
    )))
}

/// A list's title: one line of 100 characters.
pub const LIST_TITLE: Limit = Limit::chars(100);

/// A list title as stored (the API and the web app both name lists).
pub fn list_title(raw: &str) -> ApiResult<String> {
    let title = text::clean_line(raw);
    if title.is_empty() {
        return Err(ApiError::unprocessable("Validation failed: A list needs a title"));
    }
    limited("Title", &title, LIST_TITLE)?;
    Ok(title)
}

/// A display name as stored: one line (see `text::clean_line`), within [`DISPLAY_NAME`].
pub fn display_name(raw: &str) -> ApiResult<String> {
    let name = text::clean_line(raw);
    limited("Display name", &name, DISPLAY_NAME)?;
    Ok(name)
}

/// A bio as stored: lines as typed (see `text::clean_multiline`), within [`NOTE`].
pub fn bio(raw: &str) -> ApiResult<String> {
    let note = text::clean_multiline(raw).trim().to_string();
    limited("Note", &note, NOTE)?;
    Ok(note)
}

/// A post's text and content warning, cleaned and within the instance's limits: its length
/// as Mastodon counts it (graphemes, a link as 23), its size in bytes (which that count does
/// not bound: a link may be long, a grapheme many characters), and every link's size.
pub fn post_text(state: &AppState, status: Option<&str>, spoiler: Option<&str>) -> ApiResult<(String, String)> {
    let text = text::clean_multiline(status.unwrap_or_default());
    let spoiler_text = text::clean_line(spoiler.unwrap_or_default());
    if text.trim().is_empty() {
        return Err(ApiError::unprocessable("Validation failed: Text can't be blank"));
    }
    let max_bytes = state.config().max_post_bytes;
    if text.len() + spoiler_text.len() > max_bytes {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: Text is too large (at most {max_bytes} bytes with its content warning)"
        )));
    }
    if text::longest_url(&text) > text::MAX_URL_BYTES {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: A link is longer than {} bytes",
            text::MAX_URL_BYTES
        )));
    }
    let max = state.config().max_post_chars;
    if text::countable_length(&text) + spoiler_text.graphemes(true).count() > max {
        return Err(ApiError::unprocessable(format!("Validation failed: Text character limit of {max} exceeded")));
    }
    Ok((text, spoiler_text))
}

/// Refuses an account's fields that do not fit: username, password, display name, email.
fn validate_new_account(new: &NewAccount) -> ApiResult<()> {
    if !text::valid_username(&new.username) {
        return Err(ApiError::unprocessable(
            "Validation failed: Username must be 1 to 30 letters, digits or underscores",
        ));
    }
    validate_password(&new.password)?;
    if let Some(d) = &new.display_name {
        if display_name(d)? != *d {
            return Err(ApiError::unprocessable("Validation failed: Display name must be one line of text"));
        }
    }
    if let Some(e) = &new.email {
        if e.len() > 254 || !e.contains('@') || e.chars().any(char::is_whitespace) {
            return Err(ApiError::unprocessable("Validation failed: Email is invalid"));
        }
    }
    Ok(())
}

/// Refuses a password that is too short or too long.
pub fn validate_password(password: &str) -> ApiResult<()> {
    let pw_len = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&pw_len) {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: Password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// Validates and creates an account. Without a role, the state machine makes it the owner if
/// the instance has none yet, else a member (deciding it there is what keeps racing first
/// sign-ups from making several owners).
pub async fn create_account(state: &AppState, new: NewAccount) -> ApiResult<(Id, Role, u64)> {
    validate_new_account(&new)?;
    let password_hash = hash_password(state, new.password).await?;
    let (username, email, display_name) = (new.username, new.email, new.display_name);
    let command = if protocol(state)? >= 2 {
        Command::AddAccount { username, email, password_hash, role: new.role, display_name }
    } else {
        // During a rolling upgrade, as protocol 1 did it (the first account is decided here).
        let role = match new.role {
            Some(r) => r,
            None if query::has_accounts(&state.node().read()?)? => Role::Member,
            None => Role::Owner,
        };
        Command::CreateAccount { username, email, password_hash, role, display_name }
    };
    let applied = propose(state, command).await?;
    let id = created_id(&applied)?;
    let role = query::account(&state.node().read()?, id)?.map_or(Role::Member, |a| a.role);
    Ok((id, role, applied.index))
}

/// The hash an invite code is stored under.
pub fn invite_hash(code: &str) -> [u8; 32] {
    *blake3::hash(code.as_bytes()).as_bytes()
}

/// Creates an invite link for `role` (`created_by` `None`: the operator). Returns the invite's
/// ID and the link, which holds the code: it is shown once, only its hash is kept.
pub async fn create_invite(
    state: &AppState,
    created_by: Option<Id>,
    role: Role,
    max_uses: Option<u32>,
    expires_in: Option<std::time::Duration>,
) -> ApiResult<(Id, String)> {
    if max_uses == Some(0) {
        return Err(ApiError::unprocessable("An invite must allow at least one use"));
    }
    let expires_at = expires_in.map(|d| now_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    // 128 bits are plenty for a link, and keep it short enough to paste.
    let code = random_token()[..32].to_string();
    let command = Command::CreateInvite { code_hash: invite_hash(&code), created_by, role, max_uses, expires_at };
    let applied = propose(state, command).await?;
    let url = format!("{}/invite/{code}", state.config().public_url.trim_end_matches('/'));
    Ok((created_id(&applied)?, url))
}

/// Creates an account through an invite code; it gets the invite's role.
pub async fn create_account_by_invite(state: &AppState, code: &str, new: NewAccount) -> ApiResult<Id> {
    validate_new_account(&new)?;
    let code_hash = invite_hash(code);
    // Refuse a dead link before spending a password hash on it.
    if !query::invite_by_code(&state.node().read()?, &code_hash)?.is_some_and(|i| i.usable(now_ms())) {
        return Err(ApiError::from_rejection(roost_types::Rejection::InvalidInvite));
    }
    let password_hash = hash_password(state, new.password).await?;
    let applied = propose(
        state,
        Command::CreateAccountByInvite {
            code_hash,
            username: new.username,
            email: new.email,
            password_hash,
            display_name: new.display_name,
        },
    )
    .await?;
    created_id(&applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of password checks runs at most the permitted number at once and turns the rest
    /// away at once, instead of queueing without bound.
    #[test]
    fn password_work_is_bounded() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let work = std::sync::Arc::new(PasswordWork::new(1));
            let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let jobs: Vec<_> = (0..PasswordWork::MAX_WAITING + 16)
                .map(|_| {
                    let (work, running, most) = (work.clone(), running.clone(), most.clone());
                    tokio::spawn(async move {
                        work.run(move || {
                            let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(200));
                            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        })
                        .await
                    })
                })
                .collect();
            let mut refused = 0;
            for j in jobs {
                if matches!(j.await.unwrap(), Err(ApiError::TooManyRequests)) {
                    refused += 1;
                }
            }
            assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1, "one at a time");
            // 48 asked at once: one runs, 32 wait, the rest are refused (fewer if some started
            // late, after the first had finished).
            assert!(refused >= 10, "the queue is bounded: {refused} refused");
            assert_eq!(work.waiting.load(std::sync::atomic::Ordering::SeqCst), 0);
        });
    }

    /// A check whose caller went away while it waited no longer counts: dropped waiters cannot
    /// fill the queue for good.
    #[test]
    fn dropped_waiters_leave_the_queue() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let work = std::sync::Arc::new(PasswordWork::new(1));
            let busy = {
                let work = work.clone();
                tokio::spawn(
                    async move { work.run(|| std::thread::sleep(std::time::Duration::from_millis(300))).await },
                )
            };
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            for _ in 0..PasswordWork::MAX_WAITING * 2 {
                let work = work.clone();
                let waiter = tokio::spawn(async move { work.run(|| ()).await });
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                waiter.abort();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(work.waiting.load(std::sync::atomic::Ordering::SeqCst), 0);
            busy.await.unwrap().unwrap();
            assert!(work.run(|| 7).await.is_ok_and(|v| v == 7), "checks still run");
        });
    }
}
