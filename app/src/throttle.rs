//! Sign-in throttling: each address and each email may try to sign in (or
//! set up the first admin) a few times in a row, then once every few
//! seconds; beyond that the page answers 429 with `Retry-After` and says
//! when to try again. Password hashing is bounded apart from this (one
//! hash per core, see the engine's users store), so many addresses at
//! once cost waiting, not memory.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Tries one address may make in a row, and how often it gets one more.
const ADDRESS_BURST: u32 = 20;
const ADDRESS_EVERY: Duration = Duration::from_secs(3);

/// Tries one email may be given in a row, and how often it gets one more.
const EMAIL_BURST: u32 = 10;
const EMAIL_EVERY: Duration = Duration::from_secs(30);

/// The allowances of sign-in attempts, by address and by email.
pub struct SignInThrottle {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_email: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for SignInThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInThrottle")
            .field("remembered", &self.remembered())
            .finish()
    }
}

impl Default for SignInThrottle {
    fn default() -> Self {
        let quota = |burst: u32, every: Duration| {
            Quota::with_period(every)
                .expect("a period above zero")
                .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"))
        };
        SignInThrottle {
            by_address: DefaultKeyedRateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_EVERY)),
            by_email: DefaultKeyedRateLimiter::keyed(quota(EMAIL_BURST, EMAIL_EVERY)),
            clock: DefaultClock::default(),
        }
    }
}

impl SignInThrottle {
    /// Takes one attempt from `address` for `email` (as typed; compared
    /// trimmed and in lower case). `Err` holds how long to wait when
    /// either has used its allowance.
    pub fn attempt(&self, address: Option<IpAddr>, email: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(address) = address {
            self.by_address
                .check_key(&address)
                .map_err(|until| until.wait_time_from(now))?;
        }
        let email: String = email.trim().to_lowercase().chars().take(254).collect();
        self.by_email
            .check_key(&email)
            .map_err(|until| until.wait_time_from(now))
    }

    /// Forgets the addresses and emails whose allowance is full again, so
    /// the tables hold only those tried lately.
    pub fn forget_old(&self) {
        self.by_address.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_email.retain_recent();
        self.by_email.shrink_to_fit();
    }

    /// How many addresses and emails it remembers.
    pub fn remembered(&self) -> usize {
        self.by_address.len() + self.by_email.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_gets_its_burst_then_waits_whatever_the_address() {
        let throttle = SignInThrottle::default();
        for n in 0..EMAIL_BURST {
            let address = IpAddr::from([127, 0, 0, (n % 200) as u8 + 1]);
            assert_eq!(throttle.attempt(Some(address), " Ann@Example.com"), Ok(()));
        }
        let wait = throttle
            .attempt(Some(IpAddr::from([127, 0, 0, 250])), "ann@example.com")
            .unwrap_err();
        assert!(wait > Duration::ZERO && wait <= EMAIL_EVERY, "{wait:?}");
        assert_eq!(throttle.attempt(None, "bob@example.com"), Ok(()));
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_whatever_the_email() {
        let throttle = SignInThrottle::default();
        let address = Some(IpAddr::from([127, 0, 0, 1]));
        for n in 0..ADDRESS_BURST {
            assert_eq!(
                throttle.attempt(address, &format!("u{n}@example.com")),
                Ok(())
            );
        }
        let wait = throttle.attempt(address, "new@example.com").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= ADDRESS_EVERY, "{wait:?}");
        assert_eq!(throttle.remembered(), 1 + ADDRESS_BURST as usize);
        throttle.forget_old();
        assert!(throttle.remembered() >= 1, "those tried just now are kept");
    }
}
