//! The rate limits that count outcomes rather than requests (DESIGN.md, "Security rules": rate
//! limits on log-in attempts per account and on token look-ups): failed log-ins per account,
//! and token look-ups that found nothing per client. The per-client limits that count every
//! POST (log-in, sign-up, every route that hashes or verifies a password) are actix-governor
//! middleware in [`super::headers`].
//!
//! Counting is `governor`'s GCRA (a bucket of `burst` cells refilled evenly), read through the
//! app's [`Clock`], so tests step the windows with their manual clock instead of sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_governor::governor::clock::Reference as _;
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::nanos::Nanos;
use actix_governor::governor::state::keyed::DashMapStateStore;
use actix_governor::governor::{Quota, RateLimiter};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use super::error::Rejection;
use super::{AppError, AppState};
use crate::domain::{Clock, EmailAddress};
use crate::service::LoginFailures;

/// Failed log-ins one account takes as a burst before it is locked (DESIGN.md, "Security
/// rules": rate limits on log-in attempts per account).
pub const LOGIN_FAILURES_PER_ACCOUNT: u32 = 10;

/// The window of [`LOGIN_FAILURES_PER_ACCOUNT`]: one more failure is allowed every
/// `LOGIN_FAILURE_WINDOW / LOGIN_FAILURES_PER_ACCOUNT` (90 s), so an account takes at most 10
/// failures per 15 minutes, sustained.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What a refused token look-up says (the 429 page shows how long to wait).
const TOKEN_LOOKUPS_REFUSED: &str =
    "Too many links that do not exist were opened from your network. Wait, then try again.";

/// `governor`'s view of the app's [`Clock`]: nanoseconds since the Unix epoch. The wall clock
/// may step back; governor's arithmetic saturates, so a step back only makes a window longer.
#[derive(Clone)]
pub struct LimiterClock(Arc<dyn Clock>);

impl actix_governor::governor::clock::Clock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or(0);
        Nanos::from(u64::try_from(nanos).unwrap_or(0))
    }
}

type Limiter<K> = RateLimiter<K, DashMapStateStore<K>, LimiterClock, NoOpMiddleware<Nanos>>;

/// A budget of events per key (a client, an account) and the keys that have overspent it.
///
/// Only events are counted ([`Budget::spend`]: a failed log-in, a token miss); whether a key
/// may go on is asked without counting ([`Budget::refused`]). governor cannot be asked without
/// counting, so the time until which governor refused a key's last event is kept beside it.
pub struct Budget<K: Hash + Eq + Clone> {
    limiter: Limiter<K>,
    /// Keys whose last event was past the budget, and when governor would take one again.
    refused_until: Mutex<HashMap<K, Nanos>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    /// `quota.burst_size()` events at once, then one more per `quota.replenish_interval()`.
    pub fn new(quota: Quota, clock: Arc<dyn Clock>) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, LimiterClock(clock)),
            refused_until: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> Nanos {
        use actix_governor::governor::clock::Clock as _;
        self.limiter.clock().now()
    }

    fn refusals(&self) -> std::sync::MutexGuard<'_, HashMap<K, Nanos>> {
        self.refused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How long `key` must still wait, if it has overspent its budget; counts nothing.
    pub fn refused(&self, key: &K) -> Option<Duration> {
        let now = self.now();
        let mut refusals = self.refusals();
        let until = *refusals.get(key)?;
        if until > now {
            return Some(until.duration_since(now).into());
        }
        refusals.remove(key);
        None
    }

    /// Counts one event for `key`. `None` while within the budget; past it, how long `key`
    /// must wait, and [`Budget::refused`] answers for it until then.
    pub fn spend(&self, key: &K) -> Option<Duration> {
        let refusal = self.limiter.check_key(key).err()?;
        let until = refusal.earliest_possible();
        self.refusals().insert(key.clone(), until);
        Some(until.duration_since(self.now()).into())
    }

    /// Forgets keys whose budget is full again and refusals that have run out, so memory
    /// holds only recent keys.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let now = self.now();
        self.refusals().retain(|_, until| *until > now);
    }
}

/// The service layer asks this budget whether an account is locked and tells it of each
/// failed log-in (`service::accounts::authenticate`).
impl LoginFailures for Budget<EmailAddress> {
    fn locked(&self, email: &EmailAddress) -> bool {
        self.refused(email).is_some()
    }

    fn failed(&self, email: &EmailAddress) {
        self.spend(email);
    }
}

/// The per-account log-in budget as the service layer sees it, counting each refused
/// (locked) attempt in the metrics (`joinery_rate_limited_total{limiter="account_lock"}`).
pub struct CountedLoginFailures {
    /// The budget that decides.
    pub budget: Arc<Budget<EmailAddress>>,
    /// Where refusals are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl LoginFailures for CountedLoginFailures {
    fn locked(&self, email: &EmailAddress) -> bool {
        let locked = self.budget.locked(email);
        if locked {
            self.metrics.refused("account_lock");
        }
        locked
    }

    fn failed(&self, email: &EmailAddress) {
        self.budget.failed(email);
    }
}

/// The outcome-counting limits every handler can reach through `AppState`.
#[derive(Clone)]
pub struct Limits {
    /// Token look-ups that found nothing (404), per client as
    /// [`super::headers::ClientIpKey`] tells them apart.
    pub token_misses: Arc<Budget<IpAddr>>,
    /// Failed log-ins per account, keyed by the normalized address typed (whether or not an
    /// account has it, so the limit says nothing about which addresses exist).
    pub login_failures: Arc<Budget<EmailAddress>>,
}

impl Limits {
    /// `token_misses_per_minute` token misses per client per minute (at least 1), and
    /// [`LOGIN_FAILURES_PER_ACCOUNT`] per [`LOGIN_FAILURE_WINDOW`] per account, on `clock`.
    pub fn new(token_misses_per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let misses = NonZeroU32::new(token_misses_per_minute).unwrap_or(NonZeroU32::MIN);
        let failures = NonZeroU32::new(LOGIN_FAILURES_PER_ACCOUNT).unwrap_or(NonZeroU32::MIN);
        let failure_quota = Quota::with_period(LOGIN_FAILURE_WINDOW / failures.get())
            .unwrap_or(Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(failures);
        Self {
            token_misses: Arc::new(Budget::new(Quota::per_minute(misses), clock.clone())),
            login_failures: Arc::new(Budget::new(failure_quota, clock)),
        }
    }

    /// Forgets what no longer limits anyone (see [`Budget::prune`]).
    pub fn prune(&self) {
        self.token_misses.prune();
        self.login_failures.prune();
    }
}

/// Whole seconds for a `Retry-After` header, rounded up.
fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Middleware for the routes that look a token up (`/invitations/{token}…`, `/join/{token}…`,
/// `/signup/{token}`), so tokens cannot be guessed at speed (DESIGN.md, "Security rules": rate
/// limits on token look-ups).
///
/// Every answer of 404 from these routes is a miss for the client. Its first
/// `token_lookup_misses_per_minute` misses are answered as usual (one more is allowed every
/// `60 / that many` seconds); the miss past them, and then every token look-up from that
/// client — valid tokens, GETs and POSTs alike — gets 429 with `Retry-After` until a miss
/// would be allowed again. Hits never count.
///
/// # Errors
/// Those of the wrapped route.
pub async fn token_lookups(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let client = super::headers::client_key(&req, &state.settings.trusted_proxies);
    let budget = &state.limits.token_misses;
    let metrics = req
        .app_data::<web::Data<crate::metrics::Metrics>>()
        .cloned();
    let count_refusal = || {
        if let Some(m) = &metrics {
            m.refused("token_lookup");
        }
    };
    if let Some(wait) = client.and_then(|c| budget.refused(&c)) {
        count_refusal();
        let refusal = AppError::too_many(TOKEN_LOOKUPS_REFUSED, seconds(wait));
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    let res = next.call(req).await?;
    if res.status() == Rejection::NotFound.status()
        && let Some(wait) = client.and_then(|c| budget.spend(&c))
    {
        count_refusal();
        let refusal = AppError::too_many(TOKEN_LOOKUPS_REFUSED, seconds(wait));
        let (req, _) = res.into_parts();
        return Ok(ServiceResponse::from_err(refusal, req).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ManualClock;
    use chrono::{TimeZone, Utc};

    fn budget(per_minute: u32) -> (Budget<u8>, ManualClock) {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap());
        (Budget::new(quota, Arc::new(clock.clone())), clock)
    }

    #[test]
    fn a_key_is_refused_only_after_spending_past_its_budget_and_until_a_cell_returns() {
        let (budget, clock) = budget(3);
        for _ in 0..3 {
            assert_eq!(budget.spend(&1), None);
            assert_eq!(budget.refused(&1), None, "asking counts nothing");
        }
        let wait = budget.spend(&1).unwrap();
        assert_eq!(wait, Duration::from_secs(20), "one cell every 20 s");
        assert_eq!(budget.refused(&1), Some(wait));
        assert_eq!(budget.refused(&2), None, "other keys are their own");
        clock.advance(chrono::Duration::seconds(19));
        assert_eq!(budget.refused(&1), Some(Duration::from_secs(1)));
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(budget.refused(&1), None);
        assert_eq!(budget.spend(&1), None, "the cell that came back");
        assert!(budget.spend(&1).is_some());
    }

    #[test]
    fn pruning_forgets_keys_whose_budget_is_full_again() {
        let (budget, clock) = budget(2);
        for key in 0..50 {
            budget.spend(&key);
        }
        budget.spend(&0);
        budget.spend(&0);
        assert_eq!(budget.limiter.len(), 50);
        clock.advance(chrono::Duration::minutes(2));
        budget.prune();
        assert_eq!(budget.limiter.len(), 0);
        assert!(budget.refusals().is_empty());
    }

    #[test]
    fn an_account_takes_ten_failures_per_fifteen_minutes() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let limits = Limits::new(20, Arc::new(clock.clone()));
        let ada = EmailAddress::parse("ada@example.com").unwrap();
        for _ in 0..10 {
            assert_eq!(limits.login_failures.spend(&ada), None);
        }
        assert_eq!(
            limits.login_failures.spend(&ada),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::from_millis(2_001)), 3);
        assert_eq!(seconds(Duration::from_secs(3)), 3);
    }
}
