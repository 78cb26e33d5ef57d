//! Property-based fuzzing of the two credential verifiers that read bearer tokens
//! from any client: Clerk session JWTs and biscuit API tokens.
//!
//! Hostile tokens must be refused with an error, never a panic, and no edit of a
//! valid token may be accepted as anything but the same credential. RSA keys are
//! generated once per test process; `PROPTEST_CASES` raises every case count for a
//! long run.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use otto_core::ports::{CredentialError, CredentialVerifier};
use otto_core::tenancy::{CredentialKind, Operation, Principal, Role, TenantId, UserId};
use otto_testkit::ManualClock;
use otto_testkit::fuzz::{cases, hostile_text};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

fn verify(
    verifier: &dyn CredentialVerifier,
    token: &str,
    operation: Operation,
) -> Result<Principal, CredentialError> {
    RUNTIME.block_on(verifier.verify(token, operation))
}

const NOW: &str = "2026-11-25T12:00:00Z";

fn clock() -> ManualClock {
    ManualClock::at(NOW)
}

fn now() -> i64 {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("valid")
        .timestamp()
}

/// `token` with the character at `at` replaced by a different one of `alphabet`.
fn with_one_char_changed(token: &str, at: usize, replacement: Index, alphabet: &[char]) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let original = chars[at];
    let choices: Vec<char> = alphabet
        .iter()
        .copied()
        .filter(|c| *c != original)
        .collect();
    chars[at] = choices[replacement.index(choices.len())];
    chars.into_iter().collect()
}

fn base64url_alphabet() -> Vec<char> {
    ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['-', '_', '+', '/', '=', '.', ' '])
        .collect()
}

/// What base64url text decodes to, ignoring non-canonical trailing bits: two
/// texts with the same decoding are the same token to a lenient decoder.
fn lenient_decode(part: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    lenient.decode(part).ok()
}

mod clerk {
    use super::*;
    use otto_adapters::clerk::{ClerkJwtVerifier, ClerkSettings, KeySource, frontend_api_host};
    use otto_core::origin::OriginPattern;
    use otto_testkit::signers::{self, TestSigningKey};

    const ISSUER: &str = "https://clerk.otto.test";
    const PARTY: &str = "https://app.otto.test";

    static KEY: LazyLock<TestSigningKey> = LazyLock::new(|| TestSigningKey::generate("key-1"));

    /// A verifier of `KEY` (as CLERK_JWT_KEY: offline, so no JWKS stub is needed).
    static VERIFIER: LazyLock<ClerkJwtVerifier> = LazyLock::new(|| {
        let settings = ClerkSettings {
            keys: KeySource::Pem(KEY.public_pem.clone()),
            issuer: Some(ISSUER.to_owned()),
            authorized_parties: vec![OriginPattern::parse(PARTY).expect("pattern")],
            refetch_interval: Duration::from_secs(30),
            keys_ttl: Duration::from_secs(3600),
        };
        ClerkJwtVerifier::new(settings, Arc::new(clock())).expect("verifier")
    });

    static VALID_TOKEN: LazyLock<String> = LazyLock::new(|| {
        KEY.sign(&signers::session_claims_v2(
            ISSUER,
            PARTY,
            "user_1",
            "org_a",
            "admin",
            now(),
        ))
    });

    fn check(token: &str) -> Result<Principal, CredentialError> {
        verify(&*VERIFIER, token, Operation::Read)
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn header() -> BoxedStrategy<Vec<u8>> {
        let alg = prop_oneof![
            3 => select(vec!["RS256", "none", "None", "HS256", "RS512", "PS256", "ES256", "EdDSA", "rs256", ""])
                .prop_map(|alg| Value::String(alg.to_owned())),
            1 => hostile_text().prop_map(Value::String),
            1 => Just(Value::Null),
            1 => any::<i64>().prop_map(Value::from),
        ];
        let header = (
            alg,
            proptest::option::of(prop_oneof![Just("key-1".to_owned()), hostile_text()]),
            proptest::option::of(select(vec!["JWT", "jwt", "at+jwt", ""])),
            proptest::option::of(hostile_text()),
        )
            .prop_map(|(alg, kid, typ, jku)| {
                let mut header = json!({ "alg": alg });
                if let Some(kid) = kid {
                    header["kid"] = json!(kid);
                }
                if let Some(typ) = typ {
                    header["typ"] = json!(typ);
                }
                if let Some(jku) = jku {
                    header["jku"] = json!(jku);
                }
                serde_json::to_vec(&header).expect("JSON")
            });
        prop_oneof![
            4 => header,
            1 => vec(any::<u8>(), 0..128),
        ]
        .boxed()
    }

    fn id() -> BoxedStrategy<Value> {
        prop_oneof![
            4 => select(vec!["user_1", "org_a", "org_b", "admin", "org:admin", "member"])
                .prop_map(|id| json!(id)),
            2 => hostile_text().prop_map(Value::String),
            1 => Just(Value::Null),
            1 => any::<i64>().prop_map(Value::from),
            1 => Just(json!({"id": "org_a"})),
        ]
        .boxed()
    }

    /// Times at the edges that arithmetic on them may overflow, and near now.
    fn time_claim() -> BoxedStrategy<Value> {
        let now = now();
        prop_oneof![
            4 => (now - 600..now + 600).prop_map(Value::from),
            2 => any::<i64>().prop_map(Value::from),
            2 => select(vec![i64::MIN, i64::MIN + 5, i64::MAX - 5, i64::MAX, 0, -1])
                .prop_map(Value::from),
            1 => Just(json!(u64::MAX)),
            1 => Just(json!(1.5e300)),
            1 => hostile_text().prop_map(Value::String),
        ]
        .boxed()
    }

    fn claims() -> BoxedStrategy<Value> {
        let organization = prop_oneof![
            3 => (proptest::option::of(id()), proptest::option::of(id()))
                .prop_map(|(id, rol)| json!({ "id": id, "rol": rol })),
            1 => id(),
        ]
        .boxed();
        (
            (
                proptest::option::of(id()),
                proptest::option::of(prop_oneof![
                    Just(json!(ISSUER)),
                    Just(json!(format!("{ISSUER}/"))),
                    Just(json!("https://clerk.evil.test")),
                    hostile_text().prop_map(Value::String),
                ]),
                proptest::option::of(prop_oneof![
                    Just(json!(PARTY)),
                    Just(json!("https://app.otto.test.evil.io")),
                    Just(json!("http://app.otto.test")),
                    hostile_text().prop_map(Value::String),
                ]),
            ),
            (
                proptest::option::of(time_claim()),
                proptest::option::of(time_claim()),
            ),
            (
                proptest::option::of(organization),
                proptest::option::of(id()),
                proptest::option::of(id()),
            ),
        )
            .prop_map(|((sub, iss, azp), (exp, nbf), (o, org_id, org_role))| {
                let mut claims = serde_json::Map::new();
                for (name, value) in [
                    ("sub", sub),
                    ("iss", iss),
                    ("azp", azp),
                    ("exp", exp),
                    ("nbf", nbf),
                    ("o", o),
                    ("org_id", org_id),
                    ("org_role", org_role),
                ] {
                    if let Some(value) = value {
                        claims.insert(name.to_owned(), value);
                    }
                }
                Value::Object(claims)
            })
            .boxed()
    }

    fn token_text() -> BoxedStrategy<String> {
        prop_oneof![
            2 => hostile_text(),
            1 => "[A-Za-z0-9_=+/-]{0,60}\\.[A-Za-z0-9_=+/-]{0,60}\\.[A-Za-z0-9_=+/-]{0,60}",
            1 => "(\\.){0,5}[A-Za-z0-9_-]{0,8}(\\.){0,5}",
            3 => (header(), claims(), vec(any::<u8>(), 0..300)).prop_map(|(header, claims, signature)| {
                let claims = serde_json::to_vec(&claims).expect("JSON");
                format!("{}.{}.{}", b64(&header), b64(&claims), b64(&signature))
            }),
        ]
        .boxed()
    }

    /// The principal a verified token must describe: its own claims, read the way
    /// Clerk's v2 and v1 session tokens name them.
    fn check_principal(claims: &Value, principal: &Principal) -> Result<(), TestCaseError> {
        prop_assert_eq!(principal.credential, CredentialKind::ClerkSession);
        prop_assert!(!principal.platform_admin);
        prop_assert_eq!(Some(principal.user_id.as_str()), claims["sub"].as_str());
        let organization = claims["o"]["id"]
            .as_str()
            .or_else(|| claims["org_id"].as_str());
        prop_assert_eq!(Some(principal.tenant_id.as_str()), organization);
        let exp = claims["exp"]
            .as_i64()
            .expect("an accepted token has an expiry");
        prop_assert!(now() <= exp.saturating_add(otto_adapters::clerk::CLOCK_SKEW_SECONDS));
        if let Some(nbf) = claims["nbf"].as_i64() {
            prop_assert!(nbf <= now() + otto_adapters::clerk::CLOCK_SKEW_SECONDS);
        }
        prop_assert_eq!(
            claims["iss"].as_str().map(|iss| iss.trim_end_matches('/')),
            Some(ISSUER)
        );
        let party = OriginPattern::parse(PARTY).expect("pattern");
        prop_assert!(claims["azp"].as_str().is_some_and(|azp| party.matches(azp)));
        Ok(())
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_strings_never_panic_the_clerk_verifier_or_pass_it(token in token_text()) {
            let refused = check(&token);
            prop_assert!(refused.is_err(), "{token:?} was accepted: {refused:?}");
        }

        #[test]
        fn a_clerk_token_with_one_character_changed_is_refused_or_means_the_same(
            at in any::<Index>(),
            replacement in any::<Index>(),
            signature_only in any::<bool>(),
        ) {
            let token = VALID_TOKEN.as_str();
            let signature_start = token.rfind('.').expect("three parts") + 1;
            let at = if signature_only {
                signature_start + at.index(token.len() - signature_start)
            } else {
                at.index(token.len())
            };
            let changed = with_one_char_changed(token, at, replacement, &base64url_alphabet());
            let original = check(token).expect("the valid token verifies");
            // Under a lenient decoder, an edit of a last character's unused bits
            // decodes to the signed bytes: only such an edit may pass, as the same caller.
            let same_bytes = changed.split('.').count() == 3
                && changed.split('.').zip(token.split('.')).all(|(new, old)| {
                    lenient_decode(new).is_some() && lenient_decode(new) == lenient_decode(old)
                });
            if let Ok(principal) = check(&changed) {
                prop_assert!(same_bytes, "{changed} was accepted though its bytes differ");
                prop_assert_eq!(principal, original);
            }
        }

        #[test]
        fn signed_clerk_tokens_with_arbitrary_claims_never_panic_the_verifier(claims in claims()) {
            let token = KEY.sign(&claims);
            if let Ok(principal) = check(&token) {
                check_principal(&claims, &principal)?;
            }
        }
    }

    #[test]
    fn a_signed_clerk_token_expiring_at_the_end_of_time_is_valid_not_an_overflow() {
        for exp in [i64::MAX, i64::MAX - 4] {
            let mut claims =
                signers::session_claims_v2(ISSUER, PARTY, "user_1", "org_a", "admin", now());
            claims["exp"] = json!(exp);
            let principal = check(&KEY.sign(&claims)).expect("far-future expiry is valid");
            assert_eq!(principal.user_id.as_str(), "user_1");
        }
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_publishable_keys_never_panic_and_name_the_host_they_encode(
            key in prop_oneof![
                hostile_text(),
                (select(vec!["pk_test_", "pk_live_", "sk_live_"]), hostile_text()).prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
                (select(vec!["pk_test_", "pk_live_"]), "[a-z0-9.:-]{0,30}\\$?", any::<bool>()).prop_map(|(prefix, host, pad)| {
                    let engine = if pad {
                        base64::engine::general_purpose::STANDARD
                    } else {
                        base64::engine::general_purpose::STANDARD_NO_PAD
                    };
                    format!("{prefix}{}", engine.encode(host))
                }),
            ],
        ) {
            if let Some(host) = frontend_api_host(&key) {
                prop_assert!(!host.is_empty());
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{host}$"));
                prop_assert_eq!(frontend_api_host(&format!("pk_live_{encoded}")), Some(host));
            }
        }
    }
}

mod api_tokens {
    use super::*;
    use biscuit_auth::builder::{self, BiscuitBuilder, BlockBuilder};
    use biscuit_auth::{Biscuit, KeyPair, PrivateKey, PublicKey, UnverifiedBiscuit};
    use otto_adapters::api_tokens::{self, ApiTokens, Restriction, parse_ttl};

    static KEYS: LazyLock<api_tokens::GeneratedKeys> = LazyLock::new(api_tokens::generate_keys);

    static TOKENS: LazyLock<ApiTokens> = LazyLock::new(|| {
        ApiTokens::from_private_key(&KEYS.private_key, Arc::new(clock())).expect("key")
    });

    fn principal(platform_admin: bool) -> Principal {
        Principal {
            tenant_id: TenantId::parse("org_a").expect("valid"),
            user_id: UserId::parse("user_1").expect("valid"),
            role: Role::parse("admin").expect("valid"),
            credential: CredentialKind::ApiToken,
            platform_admin,
        }
    }

    static VALID_TOKEN: LazyLock<String> = LazyLock::new(|| {
        TOKENS
            .issue(&principal(false), Duration::from_secs(3600))
            .expect("issued")
    });

    fn check(token: &str, operation: Operation) -> Result<Principal, CredentialError> {
        verify(&*TOKENS, token, operation)
    }

    fn operation() -> impl Strategy<Value = Operation> {
        select(vec![Operation::Read, Operation::Write])
    }

    fn token_text() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => hostile_text(),
            2 => "[A-Za-z0-9_=-]{0,200}",
            2 => vec(any::<u8>(), 0..400).prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
        ]
    }

    /// Terms of any type, for facts a holder appends.
    fn term() -> impl Strategy<Value = builder::Term> {
        prop_oneof![
            select(vec![
                "org_a", "org_b", "user_1", "user_2", "admin", "read", "write"
            ])
            .prop_map(builder::string),
            hostile_text().prop_map(|text| builder::string(&text)),
            any::<i64>().prop_map(builder::int),
            any::<bool>().prop_map(builder::boolean),
            any::<u64>().prop_map(builder::Term::Date),
        ]
    }

    /// Datalog a holder may append to a token offline: claims of another identity
    /// (facts, rules deriving them), checks that always or never pass, and noise.
    fn appended_block() -> impl Strategy<Value = BlockBuilder> {
        let name = select(vec![
            "tenant",
            "user",
            "role",
            "platform_admin",
            "operation",
            "time",
            "identity",
            "granted",
            "admin",
        ]);
        let fact =
            (name.clone(), vec(term(), 1..3)).prop_map(|(name, terms)| builder::fact(name, &terms));
        let code = select(vec![
            r#"tenant("org_b");"#,
            r#"user("user_2"); tenant("org_b");"#,
            "platform_admin(true);",
            r#"role("admin");"#,
            "tenant($u) <- user($u);",
            "platform_admin(true) <- operation($op);",
            "check if true;",
            "check if false;",
            r#"check if operation("write");"#,
            "check if time($t), $t < 1970-01-01T00:00:00Z;",
            "check if time($t), $t > 2000-01-01T00:00:00Z;",
            "reject if user($u);",
            "many($x) <- tenant($x), user($y), role($z);",
        ]);
        (
            vec(fact, 0..4),
            vec(code, 0..3),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(facts, code, expiry)| {
                let mut block = BlockBuilder::new();
                for fact in facts {
                    block = block.fact(fact).expect("a fact of literals is valid");
                }
                for source in code {
                    block = block.code(source).expect("valid datalog");
                }
                if let Some(expiry) = expiry {
                    block = block
                        .code_with_params(
                            "check if time($time), $time < {expiry};",
                            HashMap::from([("expiry".to_owned(), builder::Term::Date(expiry))]),
                            HashMap::new(),
                        )
                        .expect("valid datalog");
                }
                block
            })
    }

    /// An authority block as only the root key's holder could sign it: any number
    /// of identities, any terms, with or without an expiry check.
    fn authority(keys: &KeyPair) -> impl Strategy<Value = String> + '_ {
        (
            vec(term(), 0..3),
            vec(term(), 0..3),
            vec(term(), 0..2),
            proptest::option::of(term()),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(move |(tenants, users, roles, admin, expiry)| {
                let mut authority = BiscuitBuilder::new();
                for (name, terms) in [("tenant", &tenants), ("user", &users), ("role", &roles)] {
                    for term in terms {
                        authority = authority
                            .fact(builder::fact(name, std::slice::from_ref(term)))
                            .expect("a fact of literals is valid");
                    }
                }
                if let Some(admin) = admin {
                    authority = authority
                        .fact(builder::fact("platform_admin", &[admin]))
                        .expect("a fact of literals is valid");
                }
                if let Some(expiry) = expiry {
                    authority = authority
                        .code_with_params(
                            "check if time($time), $time < {expiry};",
                            HashMap::from([("expiry".to_owned(), builder::Term::Date(expiry))]),
                            HashMap::new(),
                        )
                        .expect("valid datalog");
                }
                authority
                    .build(keys)
                    .and_then(|token| token.to_base64())
                    .expect("a token of literals builds")
            })
    }

    static ROOT: LazyLock<KeyPair> = LazyLock::new(|| {
        KeyPair::from(&PrivateKey::from_str(&KEYS.private_key).expect("private key"))
    });

    /// The valid token's bytes and where its authority signature lies in them.
    static SIGNED_BYTES: LazyLock<(Vec<u8>, std::ops::Range<usize>)> = LazyLock::new(|| {
        let root = PublicKey::from_str(&TOKENS.public_key()).expect("public key");
        let parsed = Biscuit::from_base64(VALID_TOKEN.as_str(), root).expect("valid");
        let signature = parsed.container().authority.signature.to_bytes().to_vec();
        let bytes = URL_SAFE_NO_PAD
            .decode(VALID_TOKEN.as_str())
            .expect("base64url");
        let start = bytes
            .windows(signature.len())
            .position(|window| window == signature.as_slice())
            .expect("the signature is in the token's bytes");
        (bytes, start..start + signature.len())
    });

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_strings_never_panic_the_api_token_verifier_or_pass_it(
            token in token_text(),
            operation in operation(),
        ) {
            let refused = check(&token, operation);
            prop_assert!(refused.is_err(), "{token:?} was accepted: {refused:?}");
            let _ = api_tokens::attenuate(&token, Restriction::ReadOnly);
        }

        #[test]
        fn arbitrary_lifetimes_never_panic_the_parser_or_the_issuer(
            raw in prop_oneof![
                hostile_text(),
                "[ +-]?[0-9]{0,22}[smhdy]? ?",
                (any::<u64>(), select(vec!["s", "m", "h", "d"])).prop_map(|(n, unit)| format!("{n}{unit}")),
            ],
        ) {
            if let Ok(ttl) = parse_ttl(&raw) {
                prop_assert!(ttl > Duration::ZERO);
                if let Ok(token) = TOKENS.issue(&principal(false), ttl) {
                    prop_assert_eq!(check(&token, Operation::Read), Ok(principal(false)));
                }
            }
        }
    }

    proptest! {
        // Each case verifies an ed25519 signature chain and runs the datalog, which a
        // debug build does slowly: fewer cases.
        #![proptest_config(cases(128))]

        #[test]
        fn an_api_token_with_one_character_changed_is_refused_or_means_the_same(
            at in any::<Index>(),
            replacement in any::<Index>(),
            operation in operation(),
        ) {
            // Biscuit tokens are one base64url protobuf: a change may land in framing
            // the decoder tolerates, so acceptance must at least mean the same caller.
            let token = VALID_TOKEN.as_str();
            let changed = with_one_char_changed(token, at.index(token.len()), replacement, &base64url_alphabet());
            if let Ok(accepted) = check(&changed, operation) {
                prop_assert_eq!(accepted, principal(false));
            }
        }

        #[test]
        fn junk_spliced_into_an_api_token_is_refused_or_means_the_same(
            at in any::<Index>(),
            junk in vec(any::<u8>(), 1..64),
            operation in operation(),
        ) {
            // Protobuf skips unknown fields, so junk that happens to encode one is
            // tolerated; it must never change who the token names.
            let mut bytes = URL_SAFE_NO_PAD.decode(VALID_TOKEN.as_str()).expect("base64url");
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, junk);
            if let Ok(accepted) = check(&URL_SAFE_NO_PAD.encode(bytes), operation) {
                prop_assert_eq!(accepted, principal(false));
            }
        }
    }

    proptest! {
        #![proptest_config(cases(64))]

        #[test]
        fn an_api_token_with_a_signature_byte_changed_is_refused(
            at in any::<Index>(),
            mask in 1u8..=255,
            operation in operation(),
        ) {
            let (bytes, signature) = &*SIGNED_BYTES;
            let mut bytes = bytes.clone();
            bytes[signature.start + at.index(signature.len())] ^= mask;
            let forged = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(check(&forged, operation), Err(CredentialError::InvalidSignature));
        }

        #[test]
        fn appended_blocks_never_change_who_an_api_token_names(
            block in appended_block(),
            operation in operation(),
            admin in any::<bool>(),
        ) {
            let token = TOKENS
                .issue(&principal(admin), Duration::from_secs(3600))
                .expect("issued");
            let attenuated = UnverifiedBiscuit::from_base64(&token)
                .and_then(|token| token.append(block))
                .and_then(|token| token.to_base64())
                .expect("a block of literals appends");
            match check(&attenuated, operation) {
                Ok(verified) => prop_assert_eq!(verified, principal(admin)),
                Err(refused) => prop_assert!(
                    matches!(refused, CredentialError::NotPermitted | CredentialError::Expired | CredentialError::Malformed(_)),
                    "{refused:?}"
                ),
            }
        }

        #[test]
        fn api_tokens_of_any_authority_never_panic_the_verifier(
            token in authority(&ROOT),
            operation in operation(),
        ) {
            if let Ok(verified) = check(&token, operation) {
                prop_assert_eq!(verified.credential, CredentialKind::ApiToken);
                let parsed = Biscuit::from_base64(&token, ROOT.public()).expect("valid");
                let source = parsed.print_block_source(0).expect("authority");
                prop_assert!(source.contains(&format!("tenant(\"{}\")", verified.tenant_id)), "{source}");
                prop_assert!(source.contains(&format!("user(\"{}\")", verified.user_id)), "{source}");
            }
        }
    }

    #[test]
    fn a_lifetime_beyond_the_calendar_is_refused_not_an_overflow() {
        let ttl = parse_ttl("100000000d").expect("a well-formed lifetime");
        assert!(matches!(
            TOKENS.issue(&principal(false), ttl),
            Err(api_tokens::ApiTokenError::Token(_))
        ));
    }
}
