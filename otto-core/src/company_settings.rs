//! A company's settings for follow-up work, read and changed by its leadership.

use std::sync::Arc;

use crate::follow_ups::MAX_SMS_LEN;
use crate::ports::{FollowUpSettings, FollowUpStore, StoreError};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantScope};
use crate::validation::{E164_EXPECTED, InvalidField, is_e164};

/// Placeholders a message template may use.
pub const TEMPLATE_PLACEHOLDERS: [&str; 2] = ["{company_name}", "{customer_name}"];

/// Why settings could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// The new settings break a rule.
    #[error("invalid settings")]
    Invalid(Vec<InvalidField>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every rule `settings` breaks.
pub fn validate(settings: &FollowUpSettings) -> Vec<InvalidField> {
    let mut invalid = Vec::new();
    if let Some(template) = &settings.missed_call_sms_template {
        let problem = if template.trim().is_empty() {
            Some("must not be blank (use null for Otto's default)".to_owned())
        } else if template.chars().count() > MAX_SMS_LEN {
            Some(format!("must be at most {MAX_SMS_LEN} characters"))
        } else {
            unknown_placeholder(template).map(|placeholder| {
                format!(
                    "`{placeholder}` is not a placeholder; use {}",
                    TEMPLATE_PLACEHOLDERS.join(" or ")
                )
            })
        };
        if let Some(message) = problem {
            invalid.push(InvalidField {
                field: "missed_call_sms_template",
                message,
            });
        }
    }
    if let Some(number) = &settings.sms_from_number
        && !is_e164(number)
    {
        invalid.push(InvalidField::new("sms_from_number", E164_EXPECTED));
    }
    invalid
}

/// The first `{...}` in `template` that is not a known placeholder.
fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |end| end + 1);
        let candidate = &after[..end];
        if !TEMPLATE_PLACEHOLDERS.contains(&candidate) {
            return Some(candidate.chars().take(40).collect());
        }
        rest = &after[end..];
    }
    None
}

/// The settings service.
#[derive(Clone)]
pub struct CompanySettings {
    store: Arc<dyn FollowUpStore>,
    roles: RoleMap,
}

impl std::fmt::Debug for CompanySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanySettings")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Who may read and change settings.
const MANAGERS: [AppRole; 1] = [AppRole::Leadership];

impl CompanySettings {
    /// Settings kept in `store`, guarded by `roles`.
    pub fn new(store: Arc<dyn FollowUpStore>, roles: RoleMap) -> Self {
        CompanySettings { store, roles }
    }

    /// The caller's company's settings.
    pub async fn settings(&self, principal: &Principal) -> Result<FollowUpSettings, SettingsError> {
        require(&self.roles, principal, &MANAGERS)?;
        Ok(self
            .store
            .follow_up_settings(&TenantScope::of(principal))
            .await?
            .0)
    }

    /// Replaces the caller's company's settings.
    pub async fn replace(
        &self,
        principal: &Principal,
        settings: FollowUpSettings,
    ) -> Result<FollowUpSettings, SettingsError> {
        require(&self.roles, principal, &MANAGERS)?;
        let invalid = validate(&settings);
        if !invalid.is_empty() {
            return Err(SettingsError::Invalid(invalid));
        }
        self.store
            .save_follow_up_settings(&TenantScope::of(principal), &settings)
            .await?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_must_be_short_non_blank_and_use_known_placeholders() {
        let with = |template: &str| FollowUpSettings {
            missed_call_sms_template: Some(template.to_owned()),
            ..FollowUpSettings::default()
        };
        assert!(validate(&with("Hi {customer_name}, {company_name} here")).is_empty());
        assert!(validate(&FollowUpSettings::default()).is_empty());
        for bad in [
            "  ",
            "Hi {name}",
            "Hi {customer_name",
            &"x".repeat(MAX_SMS_LEN + 1),
        ] {
            let invalid = validate(&with(bad));
            assert_eq!(invalid.len(), 1, "{bad}");
            assert_eq!(invalid[0].field, "missed_call_sms_template");
        }
    }
}
