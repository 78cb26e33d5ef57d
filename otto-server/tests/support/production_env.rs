//! A production environment that loads.

/// Real-looking values for every production variable, generated per run so that no
/// credential-shaped literal is committed.
pub fn production_pairs() -> Vec<(&'static str, String)> {
    let token = || uuid::Uuid::new_v4().simple().to_string();
    vec![
        ("OTTO_ENV", "production".to_owned()),
        (
            "DATABASE_URL",
            format!("postgres://otto:{}@db.internal:5432/otto", token()),
        ),
        ("OTTO_DATABASE_SCOPE_KEY", format!("{}{}", token(), token())),
        ("REDIS_URL", "redis://cache.internal:6379/0".to_owned()),
        ("CLERK_SECRET_KEY", format!("sk_live_{}", token())),
        (
            "CLERK_PUBLISHABLE_KEY",
            "pk_live_Y2xlcmsub3R0by5pbyQ".to_owned(),
        ),
        ("TWILIO_ACCOUNT_SID", format!("AC{}", token())),
        ("TWILIO_AUTH_TOKEN", token()),
        ("TWILIO_FROM_NUMBER", "+15017122661".to_owned()),
        ("CALLRAIL_API_KEY", token()),
        ("CALLRAIL_ACCOUNT_ID", format!("ACC{}", token())),
        ("DEEPGRAM_API_KEY", token()),
        ("OPENAI_API_KEY", format!("sk-proj-{}", token())),
        ("BLAND_API_KEY", format!("org_{}", token())),
        ("ALLOWED_ORIGINS", "https://app.otto.io".to_owned()),
        ("CALLRAIL_WEBHOOK_SECRET", token()),
        ("CLERK_WEBHOOK_SECRET", format!("whsec_{}", token())),
        ("BLAND_WEBHOOK_SECRET", token()),
        ("OTTO_PUBLIC_URL", "https://api.otto.io".to_owned()),
    ]
}
