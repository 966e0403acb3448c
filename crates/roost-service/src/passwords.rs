//! Passwords: hashed with argon2id on blocking threads, a bounded number at a time.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use roost_types::{Actor, Command};

use crate::{Applied, Error, Result, Service};

/// Longest password accepted (argon2 takes more, but nobody needs more).
pub const MAX_PASSWORD: usize = 1024;
pub const MIN_PASSWORD: usize = 8;

/// Refuses a password that is too short or too long.
pub fn validate_password(password: &str) -> Result<()> {
    let pw_len = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&pw_len) {
        return Err(Error::invalid(format!(
            "Validation failed: Password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    Ok(())
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

    pub(crate) fn new(at_once: usize) -> PasswordWork {
        PasswordWork {
            running: std::sync::Arc::new(tokio::sync::Semaphore::new(at_once)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Runs a check when a turn comes, refusing it at once if too many wait (password checks
    /// are what a stranger can ask for by the thousand). A check whose caller goes away stops
    /// counting as waiting.
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        use std::sync::atomic::Ordering;
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= Self::MAX_WAITING {
            return Err(Error::TooManyRequests);
        }
        let permit = self.running.clone().acquire_owned().await;
        drop(waiting);
        self.spawn(permit, work).await
    }

    /// Runs a hash when a turn comes, however many wait: hashing a new password follows a check
    /// that bounds who may ask (the operator, an invite's holder, a signed-in member).
    async fn run_queued<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = self.running.clone().acquire_owned().await;
        self.spawn(permit, work).await
    }

    /// The work on a blocking thread, holding its turn until it is done there (even if the
    /// caller stops waiting for it).
    async fn spawn<T: Send + 'static>(
        &self,
        permit: Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let permit = permit.map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            work()
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Hashes a password with argon2id (see [`PasswordWork`]).
pub async fn hash_password(svc: &Service, password: String) -> Result<String> {
    svc.password_work()
        .run_queued(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| Error::Internal(format!("hashing: {e}")))
}

/// Checks a password against a stored hash (see [`PasswordWork`]).
pub async fn verify_password(svc: &Service, hash: String, password: String) -> Result<bool> {
    svc.password_work()
        .run(move || match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
}

/// Changes the signed-in actor's password after checking the current one (throttled like a
/// sign-in, so that a stolen session is no way to guess it). Every session and token but
/// `keep` (the one in use) ends.
pub async fn change_password(
    svc: &Service,
    by: &Actor,
    current: String,
    new: String,
    from: std::net::IpAddr,
    keep: Option<[u8; 32]>,
) -> Result<Applied> {
    let account = crate::write::member(by)?;
    validate_password(&new)?;
    let found = roost_core::query::account(&svc.read()?, account)?.ok_or(Error::NotFound)?;
    if !crate::sign_in::confirm_password(svc, &found, current, from).await? {
        return Err(Error::invalid("The current password is not right"));
    }
    let password_hash = hash_password(svc, new).await?;
    crate::write::propose(svc, by, Command::SetPassword { account, password_hash, keep }).await
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
                if matches!(j.await.unwrap(), Err(Error::TooManyRequests)) {
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
