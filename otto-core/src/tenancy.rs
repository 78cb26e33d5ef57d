//! Who is calling: tenants, users, roles and the verified principal.
//!
//! Every authenticated request carries a [`Principal`]; every tenant-owned row belongs
//! to exactly one [`TenantId`]. A tenant is a company, which is a Clerk organization:
//! the organization id *is* the tenant id.

use std::fmt;

/// Longest identifier Otto accepts from a credential.
const MAX_ID_LEN: usize = 128;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: 1-128 characters of letters, digits, `_` and `-`")]
pub struct InvalidId {
    what: &'static str,
    value: String,
}

fn parse_id(what: &'static str, value: &str) -> Result<String, InvalidId> {
    let valid = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(InvalidId {
            what,
            value: value.chars().take(MAX_ID_LEN).collect(),
        })
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier; see [`InvalidId`] for the rule.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                parse_id($what, value).map($name)
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// A tenant: a company, identified by its Clerk organization id (`org_...`).
    TenantId,
    "tenant id"
);
identifier!(
    /// A user, identified by its Clerk user id (`user_...`).
    UserId,
    "user id"
);

/// A user's role in a tenant, as Clerk names it without the `org:` prefix (`admin`,
/// `member`, or a custom role).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Role(String);

impl Role {
    /// The role of members whose credential names none.
    pub const MEMBER: &'static str = "member";

    /// Normalises a role claim: `org:admin` and `admin` are the same role.
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let bare = value.trim().strip_prefix("org:").unwrap_or(value.trim());
        let valid = !bare.is_empty()
            && bare.len() <= MAX_ID_LEN
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
        if valid {
            Ok(Role(bare.to_ascii_lowercase()))
        } else {
            Err(InvalidId {
                what: "role",
                value: value.chars().take(MAX_ID_LEN).collect(),
            })
        }
    }

    /// The default role.
    pub fn member() -> Self {
        Role(Self::MEMBER.to_owned())
    }

    /// The role as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this role administers its tenant.
    pub fn is_admin(&self) -> bool {
        self.0 == "admin"
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of credential a principal presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A Clerk session JWT (browsers and mobile apps).
    ClerkSession,
    /// A biscuit API token (servers, scripts, smoke tests).
    ApiToken,
}

impl CredentialKind {
    /// The kind as a stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ClerkSession => "clerk_session",
            CredentialKind::ApiToken => "api_token",
        }
    }
}

/// What a request wants to do, for credentials that restrict it (an attenuated API
/// token may allow reading only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Reading (GET, HEAD).
    Read,
    /// Changing something (POST, PUT, PATCH, DELETE).
    Write,
}

impl Operation {
    /// The operation as a stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
        }
    }
}

/// A verified caller: who, in which tenant, with which role and credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant every data access of the request is confined to.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// The user's role in the tenant.
    pub role: Role,
    /// How the caller proved who it is.
    pub credential: CredentialKind,
    /// Whether the caller operates the platform itself (provider-account links,
    /// replays across tenants). Only an API token whose authority block says so
    /// grants it; a Clerk session never does.
    pub platform_admin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clerk_style_ids_parse_and_garbage_does_not() {
        assert_eq!(
            TenantId::parse("org_2abcXYZ").expect("valid").as_str(),
            "org_2abcXYZ"
        );
        assert!(UserId::parse("user_29w83sxmDNGwOuEthce5gg56FcC").is_ok());
        for bad in [
            "",
            "org 1",
            "org/1",
            "org_1'; drop table calls;--",
            &"a".repeat(129),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_lose_the_org_prefix_and_case() {
        assert_eq!(
            Role::parse("org:admin").expect("valid"),
            Role::parse("Admin").expect("valid")
        );
        assert!(Role::parse("org:admin").expect("valid").is_admin());
        assert_eq!(
            Role::parse("org:sales_rep").expect("valid").as_str(),
            "sales_rep"
        );
        assert!(Role::parse("").is_err());
        assert_eq!(Role::member().as_str(), "member");
    }
}

/// Proof that data access happens on behalf of one tenant.
///
/// Repositories take a `&TenantScope` for every tenant-owned read or write, and the
/// only ways to make one are from an authenticated [`Principal`] or (for webhooks) a
/// tenant resolved from a verified delivery. Code that forgets the tenant does not
/// compile; on PostgreSQL the scope also becomes the row-level-security setting of
/// the transaction, so even a raw query cannot cross tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: TenantId,
}

impl TenantScope {
    /// The scope of an authenticated caller.
    pub fn of(principal: &Principal) -> Self {
        TenantScope {
            tenant_id: principal.tenant_id.clone(),
        }
    }

    /// The scope of a provider delivery whose tenant was resolved from verified data
    /// (a signed webhook routed to a known company).
    pub fn for_verified_delivery(tenant_id: TenantId) -> Self {
        TenantScope { tenant_id }
    }

    /// The scope of a background job, whose tenant was fixed by the verified
    /// delivery or authenticated request that enqueued it.
    pub fn for_job(tenant_id: TenantId) -> Self {
        TenantScope { tenant_id }
    }

    /// The scope of a live-event stream, whose tenant was fixed by the authenticated
    /// request or the redeemed ticket that opened it.
    pub fn for_event_stream(tenant_id: TenantId) -> Self {
        TenantScope { tenant_id }
    }

    /// The tenant.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
}
