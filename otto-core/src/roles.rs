//! Otto's roles and what they may do. A caller's role comes from its organization
//! role (Clerk's `org:admin`, `org:member`, custom roles) through a configurable map;
//! services check it, so every way in is guarded, not only the HTTP handlers.

use std::fmt;

use crate::tenancy::{Principal, Role};

/// What a user is in Otto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppRole {
    /// Runs the company: settings, users, every call.
    Leadership,
    /// Customer service: the tenant's calls and messages.
    Csr,
    /// A sales rep: the calls assigned to them.
    Rep,
}

impl AppRole {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AppRole::Leadership => "leadership",
            AppRole::Csr => "csr",
            AppRole::Rep => "rep",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "leadership" => Some(AppRole::Leadership),
            "csr" => Some(AppRole::Csr),
            "rep" => Some(AppRole::Rep),
            _ => None,
        }
    }
}

impl fmt::Display for AppRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a role map was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role mapping: expected org_role=leadership|csr|rep, comma-separated")]
pub struct InvalidRoleMap(String);

/// From organization roles to Otto's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap {
    entries: Vec<(Role, AppRole)>,
    fallback: AppRole,
}

impl Default for RoleMap {
    /// `admin` is leadership; every other organization role is csr.
    fn default() -> Self {
        RoleMap {
            entries: vec![(Role::parse("admin").expect("valid"), AppRole::Leadership)],
            fallback: AppRole::Csr,
        }
    }
}

impl RoleMap {
    /// Parses `admin=leadership,member=csr,sales_rep=rep` (organization roles with or
    /// without `org:`); `*=rep` sets the role of unlisted organization roles
    /// (default csr). `admin` stays leadership unless the text maps it otherwise.
    pub fn parse(text: &str) -> Result<Self, InvalidRoleMap> {
        let mut map = RoleMap::default();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let invalid = || InvalidRoleMap(pair.chars().take(64).collect());
            let (from, to) = pair.split_once('=').ok_or_else(invalid)?;
            let to = AppRole::parse(to).ok_or_else(invalid)?;
            if from.trim() == "*" {
                map.fallback = to;
                continue;
            }
            let from = Role::parse(from).map_err(|_| invalid())?;
            map.entries.retain(|(known, _)| known != &from);
            map.entries.push((from, to));
        }
        Ok(map)
    }

    /// The Otto role of an organization role.
    pub fn role_of(&self, role: &Role) -> AppRole {
        self.entries
            .iter()
            .find(|(known, _)| known == role)
            .map_or(self.fallback, |(_, app_role)| *app_role)
    }
}

/// A caller lacks the role an action needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.explain("this"))]
pub struct RoleRequired {
    /// The roles allowed.
    pub needed: Vec<AppRole>,
    /// The caller's role.
    pub held: AppRole,
}

impl RoleRequired {
    /// The refusal as a sentence about `action`: "`action` needs the leadership role;
    /// yours is csr".
    pub fn explain(&self, action: &str) -> String {
        let needed = self
            .needed
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        format!("{action} needs the {needed} role; yours is {}", self.held)
    }
}

/// The caller's Otto role, if it is one of `allowed`.
pub fn require(
    roles: &RoleMap,
    principal: &Principal,
    allowed: &[AppRole],
) -> Result<AppRole, RoleRequired> {
    let held = roles.role_of(&principal.role);
    if allowed.contains(&held) {
        Ok(held)
    } else {
        Err(RoleRequired {
            needed: allowed.to_vec(),
            held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Role {
        Role::parse(name).expect("valid")
    }

    #[test]
    fn admins_lead_and_everyone_else_serves_customers_by_default() {
        let map = RoleMap::default();
        assert_eq!(map.role_of(&role("org:admin")), AppRole::Leadership);
        assert_eq!(map.role_of(&role("org:member")), AppRole::Csr);
        assert_eq!(map.role_of(&role("org:sales_rep")), AppRole::Csr);
    }

    #[test]
    fn a_configured_map_names_custom_roles_and_the_fallback() {
        let map = RoleMap::parse("org:sales_rep=rep, member=csr, *=rep").expect("valid");
        assert_eq!(map.role_of(&role("sales_rep")), AppRole::Rep);
        assert_eq!(map.role_of(&role("member")), AppRole::Csr);
        assert_eq!(map.role_of(&role("intern")), AppRole::Rep);
        assert_eq!(map.role_of(&role("admin")), AppRole::Leadership);
        let demoted = RoleMap::parse("admin=csr").expect("valid");
        assert_eq!(demoted.role_of(&role("admin")), AppRole::Csr);
        for bad in ["admin", "admin=boss", "=rep", "ad min=rep"] {
            assert!(RoleMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_refusal_names_the_role_needed() {
        let refusal = RoleRequired {
            needed: vec![AppRole::Leadership],
            held: AppRole::Csr,
        };
        assert_eq!(
            refusal.to_string(),
            "this needs the leadership role; yours is csr"
        );
    }
}
