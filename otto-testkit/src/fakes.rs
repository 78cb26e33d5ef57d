//! In-memory fakes of the ports in `otto_core::ports`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::ports::{Clock, IdGenerator, ProbeError, ReadinessProbe};
use uuid::Uuid;

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at an RFC 3339 instant.
    ///
    /// # Panics
    /// When `instant` is not RFC 3339: a fixture error, so failing loudly is right.
    pub fn at(instant: &str) -> Self {
        let now = DateTime::parse_from_rfc3339(instant)
            .unwrap_or_else(|error| panic!("`{instant}` is not RFC 3339: {error}"))
            .with_timezone(&Utc);
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).expect("duration fits chrono");
        *self.lock() += by;
    }

    /// The instant `by` after the clock's current time (the clock does not move).
    pub fn now_plus(&self, by: Duration) -> DateTime<Utc> {
        *self.lock() + chrono::Duration::from_std(by).expect("duration fits chrono")
    }

    /// Sets the clock to an instant (forwards or backwards).
    pub fn set(&self, instant: DateTime<Utc>) {
        *self.lock() = instant;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// Ids `00000000-0000-0000-0000-000000000001`, `...002`, ...: predictable in assertions.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.next.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

/// A readiness probe whose answer the test decides.
#[derive(Debug, Clone)]
pub struct SwitchableProbe {
    component: &'static str,
    up: Arc<AtomicBool>,
    delay: Duration,
}

impl SwitchableProbe {
    /// A probe for `component` that starts up.
    pub fn up(component: &'static str) -> Self {
        SwitchableProbe {
            component,
            up: Arc::new(AtomicBool::new(true)),
            delay: Duration::ZERO,
        }
    }

    /// A probe for `component` that starts down.
    pub fn down(component: &'static str) -> Self {
        let probe = Self::up(component);
        probe.set_up(false);
        probe
    }

    /// A probe that takes `delay` to answer: for testing timeouts.
    pub fn slow(component: &'static str, delay: Duration) -> Self {
        SwitchableProbe {
            delay,
            ..Self::up(component)
        }
    }

    /// Switches the dependency up or down.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

#[async_trait]
impl ReadinessProbe for SwitchableProbe {
    fn component(&self) -> &'static str {
        self.component
    }

    async fn check(&self) -> Result<(), ProbeError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(ProbeError::Unavailable(format!(
                "{} is switched off",
                self.component
            )))
        }
    }
}

/// A credential verifier over a fixed table of tokens, for tests of code that needs a
/// principal but not a real signature scheme.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials {
    tokens: Arc<Mutex<std::collections::HashMap<String, StaticToken>>>,
}

#[derive(Debug, Clone)]
struct StaticToken {
    principal: otto_core::tenancy::Principal,
    expired: bool,
    read_only: bool,
}

impl StaticCredentials {
    /// Accepts `token` as `principal` from now on.
    pub fn allow(&self, token: &str, principal: otto_core::tenancy::Principal) -> &Self {
        self.insert(
            token,
            StaticToken {
                principal,
                expired: false,
                read_only: false,
            },
        )
    }

    /// Accepts `token` as `principal`, for reads only.
    pub fn allow_read_only(&self, token: &str, principal: otto_core::tenancy::Principal) -> &Self {
        self.insert(
            token,
            StaticToken {
                principal,
                expired: false,
                read_only: true,
            },
        )
    }

    /// Knows `token` as expired.
    pub fn expire(&self, token: &str, principal: otto_core::tenancy::Principal) -> &Self {
        self.insert(
            token,
            StaticToken {
                principal,
                expired: true,
                read_only: false,
            },
        )
    }

    fn insert(&self, token: &str, entry: StaticToken) -> &Self {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(token.to_owned(), entry);
        self
    }
}

#[async_trait]
impl otto_core::ports::CredentialVerifier for StaticCredentials {
    async fn verify(
        &self,
        token: &str,
        operation: otto_core::tenancy::Operation,
    ) -> Result<otto_core::tenancy::Principal, otto_core::ports::CredentialError> {
        use otto_core::ports::CredentialError;
        let entry = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        match entry {
            None => Err(CredentialError::InvalidSignature),
            Some(entry) if entry.expired => Err(CredentialError::Expired),
            Some(entry) if entry.read_only && operation == otto_core::tenancy::Operation::Write => {
                Err(CredentialError::NotPermitted)
            }
            Some(entry) => Ok(entry.principal),
        }
    }
}
