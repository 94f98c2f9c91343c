//! Login and sign-up attempts per client address: brute force and sign-up floods are turned away
//! long before they cost hashing capacity. Off unless configured.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use uuid::Uuid;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

pub struct AuthRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl AuthRateLimiter {
    /// `None` when `per_minute` is 0 (disabled).
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
        })
    }

    /// Seconds to wait, or `None` when the request may pass.
    pub fn check(&self, ip: IpAddr) -> Option<u64> {
        self.limiter.check_key(&ip).err().map(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets idle clients so the table does not grow without bound.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Password-reset mails per address: nobody can flood an inbox through us. Always on; counted
/// for any address, existing or not, so a 429 says nothing about accounts.
pub struct AddressRateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl AddressRateLimiter {
    /// `per_hour` requests an hour after a burst of as many.
    pub fn new(per_hour: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_hour(per_hour)),
        }
    }

    /// Seconds to wait, or `None` when the request may pass.
    pub fn check(&self, address: &str) -> Option<u64> {
        self.limiter
            .check_key(&address.to_owned())
            .err()
            .map(|not_until| {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Reactions per person (guest or host id): tapping through the gallery is fine, a script
/// flooding every photo (and every live view with it) is not. Always on.
pub struct ReactionRateLimiter {
    limiter: DefaultKeyedRateLimiter<Uuid>,
}

impl ReactionRateLimiter {
    /// `per_minute` reactions a minute after a burst of `burst`.
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    /// Seconds to wait, or `None` when the reaction may pass.
    pub fn check(&self, reactor_id: Uuid) -> Option<u64> {
        self.limiter.check_key(&reactor_id).err().map(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Wrong PINs of a protected event allowed per client address within `window`. Counted in the
/// database (`join_pin_attempts`), so the limit holds across replicas; keyed by address, so one
/// guesser cannot lock every guest out.
#[derive(Debug, Clone, Copy)]
pub struct PinAttemptLimit {
    pub attempts: u32,
    pub window: Duration,
}
