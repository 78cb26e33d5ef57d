//! [`VerifiedTokens`]: a bounded memo of tokens whose signatures already verified.
//!
//! A credential is presented on every request of a session or script, and checking
//! its signature (an ed25519 chain for a biscuit) and decoding it cost more than the
//! rest of authentication. The outcome of that check never changes for the same bytes
//! under the same key, so it is remembered, by the token's SHA-256 digest. What does
//! change (the time, the operation, the token's own checks) is still decided on every
//! request by the caller. Failures are never remembered.
//!
//! Memory is bounded by two generations of at most `capacity` entries each: when the
//! current one fills it becomes the previous one and the oldest is dropped, and a hit
//! in the previous generation moves back into the current one. Tokens in use stay;
//! a flood of distinct valid tokens only costs their verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ring::digest::{SHA256, digest};

type Digest = [u8; 32];

/// Verified tokens of one verifier, by digest.
pub struct VerifiedTokens<V> {
    capacity: usize,
    generations: Mutex<Generations<V>>,
}

struct Generations<V> {
    current: HashMap<Digest, Arc<V>>,
    previous: HashMap<Digest, Arc<V>>,
}

impl<V> std::fmt::Debug for VerifiedTokens<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("capacity", &self.capacity)
            .field("remembered", &self.len())
            .finish()
    }
}

fn digest_of(token: &str) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

impl<V> VerifiedTokens<V> {
    /// A memo keeping at most `2 * capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity: capacity.max(1),
            generations: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
            }),
        }
    }

    /// The remembered verification of `token`, else `verify`'s, remembered when it
    /// succeeds. `verify` runs outside the lock.
    pub fn get_or_verify<E>(
        &self,
        token: &str,
        verify: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        let key = digest_of(token);
        if let Some(found) = self.lookup(&key) {
            return Ok(found);
        }
        let verified = Arc::new(verify()?);
        self.remember(key, Arc::clone(&verified));
        Ok(verified)
    }

    /// Forgets every token (the keys they were verified with changed).
    pub fn clear(&self) {
        let mut generations = self.lock();
        generations.current.clear();
        generations.previous.clear();
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        let generations = self.lock();
        generations.current.len() + generations.previous.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<V>> {
        // Every update leaves both maps consistent, so a panic elsewhere cannot
        // leave them half-written.
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, key: &Digest) -> Option<Arc<V>> {
        let mut generations = self.lock();
        if let Some(found) = generations.current.get(key) {
            return Some(Arc::clone(found));
        }
        let promoted = generations.previous.remove(key)?;
        generations.insert(self.capacity, *key, Arc::clone(&promoted));
        Some(promoted)
    }

    fn remember(&self, key: Digest, verified: Arc<V>) {
        self.lock().insert(self.capacity, key, verified);
    }
}

impl<V> Generations<V> {
    fn insert(&mut self, capacity: usize, key: Digest, value: Arc<V>) {
        if self.current.len() >= capacity && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_verified_token_is_verified_once() {
        let memo = VerifiedTokens::new(8);
        let runs = Cell::new(0);
        for _ in 0..3 {
            let verified = memo.get_or_verify("token-a", || {
                runs.set(runs.get() + 1);
                Ok::<_, ()>("principal-a")
            });
            assert_eq!(verified.as_deref(), Ok(&"principal-a"));
        }
        assert_eq!(runs.get(), 1);
        let other = memo.get_or_verify("token-b", || Ok::<_, ()>("principal-b"));
        assert_eq!(
            other.as_deref(),
            Ok(&"principal-b"),
            "tokens are not confused"
        );

        memo.clear();
        let again = memo.get_or_verify("token-a", || Err("verified again"));
        assert_eq!(again, Err("verified again"), "a cleared memo verifies anew");
    }

    #[test]
    fn a_refused_token_is_checked_again_every_time() {
        let memo = VerifiedTokens::<&str>::new(8);
        let runs = Cell::new(0);
        for _ in 0..3 {
            let refused = memo.get_or_verify("forged", || {
                runs.set(runs.get() + 1);
                Err("bad signature")
            });
            assert_eq!(refused, Err("bad signature"));
        }
        assert_eq!(runs.get(), 3);
        assert!(memo.is_empty());
    }

    #[test]
    fn memory_stays_bounded_and_tokens_in_use_stay() {
        let memo = VerifiedTokens::new(4);
        let verify = |n: usize| move || Ok::<_, ()>(n);
        memo.get_or_verify("in-use", verify(0)).expect("verifies");
        for n in 1..1_000 {
            memo.get_or_verify(&format!("token-{n}"), verify(n))
                .expect("verifies");
            assert!(memo.len() <= 8, "{} remembered", memo.len());
            // The token in use keeps being presented: it is never verified again.
            memo.get_or_verify("in-use", || Err(()))
                .expect("still remembered");
        }
    }
}
