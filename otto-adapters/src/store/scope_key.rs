//! The key of scope proofs (migration 10): a transaction's tenant or platform scope
//! holds on PostgreSQL only with `hex(sha256(key || sha256(key || subject)))`, where
//! the subject is `tenant:<id>` or `platform:<transaction id>`. SQL cannot compute it:
//! the key is in a table only the schema owner reads, and in this process's memory.
//!
//! A store connected as the schema owner (development, tests) reads the key from the
//! database once; a store connected as the runtime login is given it
//! (OTTO_DATABASE_SCOPE_KEY), since that login cannot read it.

use std::sync::{Arc, OnceLock};

use otto_core::ports::StoreError;
use otto_core::tenancy::TenantId;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use sha2::{Digest, Sha256};

/// The key bytes, known.
#[derive(Clone)]
pub struct KnownKey(Arc<[u8]>);

impl std::fmt::Debug for KnownKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KnownKey(****)")
    }
}

impl KnownKey {
    /// `key` as the database stores a configured one (its UTF-8 bytes).
    pub fn new(key: &[u8]) -> Self {
        KnownKey(Arc::from(key))
    }

    fn digest(&self, subject: &str) -> String {
        let inner = Sha256::new()
            .chain_update(&self.0)
            .chain_update(subject.as_bytes())
            .finalize();
        let outer = Sha256::new()
            .chain_update(&self.0)
            .chain_update(inner)
            .finalize();
        otto_core::webhooks::signatures::hex(&outer)
    }

    /// The proof of `tenant`'s scope (`app.tenant_proof`).
    pub fn tenant_proof(&self, tenant: &TenantId) -> String {
        self.digest(&format!("tenant:{}", tenant.as_str()))
    }

    /// The proof of the platform scope in transaction `transaction_id`
    /// (`app.platform_proof`).
    pub fn platform_proof(&self, transaction_id: &str) -> String {
        self.digest(&format!("platform:{transaction_id}"))
    }
}

/// Where a store's key comes from.
#[derive(Debug)]
pub struct ScopeKey {
    configured: Option<KnownKey>,
    read: OnceLock<KnownKey>,
}

impl ScopeKey {
    /// The key as configured.
    pub fn configured(key: &str) -> Self {
        ScopeKey {
            configured: Some(KnownKey::new(key.as_bytes())),
            read: OnceLock::new(),
        }
    }

    /// The key read from the database on first use.
    pub fn from_database() -> Self {
        ScopeKey {
            configured: None,
            read: OnceLock::new(),
        }
    }

    /// The key, reading it from `db` the first time when it was not configured.
    pub async fn get(&self, db: &DatabaseConnection) -> Result<KnownKey, StoreError> {
        if let Some(key) = self.configured.as_ref().or_else(|| self.read.get()) {
            return Ok(key.clone());
        }
        let row = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT key FROM otto_scope_key",
            ))
            .await
            .map_err(|error| {
                StoreError::Internal(format!(
                    "the database scope key cannot be read by this login ({error}); \
                     give the process OTTO_DATABASE_SCOPE_KEY, the key `migrate up` stored"
                ))
            })?
            .ok_or_else(|| {
                StoreError::Internal(
                    "no database scope key is stored yet: run `otto-server migrate up`".to_owned(),
                )
            })?;
        let key: Vec<u8> = row
            .try_get("", "key")
            .map_err(|error| StoreError::Internal(format!("the scope key: {error}")))?;
        Ok(self.read.get_or_init(|| KnownKey::new(&key)).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_keyed_and_bound_to_their_subject() {
        let key = KnownKey::new(b"0123456789abcdef0123456789abcdef");
        let other = KnownKey::new(b"fedcba9876543210fedcba9876543210");
        let tenant = TenantId::parse("org_a").expect("valid");
        let proof = key.tenant_proof(&tenant);
        assert_eq!(proof.len(), 64);
        assert_eq!(proof, key.tenant_proof(&tenant), "deterministic");
        assert_ne!(proof, other.tenant_proof(&tenant), "keyed");
        assert_ne!(
            proof,
            key.tenant_proof(&TenantId::parse("org_b").expect("valid"))
        );
        assert_ne!(key.platform_proof("41"), key.platform_proof("42"));
    }
}
