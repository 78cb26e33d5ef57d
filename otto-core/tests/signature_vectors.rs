//! Each provider's published signature test vectors, and the ways a signature must
//! fail. (Keys and signatures below are the providers' public test vectors.)

use otto_core::webhooks::signatures::{SignatureError, bland, callrail, svix, twilio};

const CALLRAIL_BODY: &[u8] = include_bytes!("fixtures/callrail_post_call.json");
const CALLRAIL_KEY: &str = "072e77e426f92738a72fe23c4d1953b4"; // pragma: allowlist secret (CallRail docs vector)
const CALLRAIL_SIGNATURE: &str = "UZAHbUdfm3GqL7qzilGozGzWV64="; // pragma: allowlist secret

#[test]
fn callrail_accepts_the_published_payload_and_refuses_tampering() {
    assert_eq!(
        callrail::sign(CALLRAIL_KEY, CALLRAIL_BODY),
        CALLRAIL_SIGNATURE
    );
    assert_eq!(
        callrail::verify(CALLRAIL_KEY, CALLRAIL_BODY, Some(CALLRAIL_SIGNATURE)),
        Ok(())
    );
    let mut tampered = CALLRAIL_BODY.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        callrail::verify(CALLRAIL_KEY, &tampered, Some(CALLRAIL_SIGNATURE)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        callrail::verify("another-key", CALLRAIL_BODY, Some(CALLRAIL_SIGNATURE)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        callrail::verify(CALLRAIL_KEY, CALLRAIL_BODY, None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        callrail::verify(CALLRAIL_KEY, CALLRAIL_BODY, Some("%%%")),
        Err(SignatureError::Malformed)
    );
}

const TWILIO_TOKEN: &str = "12345";
const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn twilio_params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"), // pragma: allowlist secret (published test vector)
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

#[test]
fn twilio_form_requests_match_the_published_vector() {
    assert_eq!(
        twilio::sign(TWILIO_TOKEN, TWILIO_URL, &twilio_params()),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert_eq!(
        twilio::verify(
            TWILIO_TOKEN,
            TWILIO_URL,
            &twilio_params(),
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ),
        Ok(())
    );
    let mut changed = twilio_params();
    changed[1].1 = "9999".to_owned();
    assert_eq!(
        twilio::verify(
            TWILIO_TOKEN,
            TWILIO_URL,
            &changed,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        twilio::verify(TWILIO_TOKEN, TWILIO_URL, &twilio_params(), None),
        Err(SignatureError::Missing)
    );
}

#[test]
fn twilio_signatures_with_and_without_the_default_port_both_verify() {
    let with_https_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::sign(TWILIO_TOKEN, with_https_port, &twilio_params()),
        "kvajT1Ptam85bY51eRf/AJRuM3w=" // pragma: allowlist secret (published test vector)
    );
    // Signed with the port, received without (and the other way round).
    assert_eq!(
        twilio::verify(
            TWILIO_TOKEN,
            TWILIO_URL,
            &twilio_params(),
            Some("kvajT1Ptam85bY51eRf/AJRuM3w=") // pragma: allowlist secret
        ),
        Ok(())
    );
    assert_eq!(
        twilio::verify(
            TWILIO_TOKEN,
            with_https_port,
            &twilio_params(),
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ),
        Ok(())
    );
    let with_http_port = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::sign(TWILIO_TOKEN, with_http_port, &twilio_params()),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    assert_eq!(
        twilio::verify(
            TWILIO_TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &twilio_params(),
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")
        ),
        Ok(())
    );
}

#[test]
fn twilio_json_bodies_use_the_body_hash() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"; // pragma: allowlist secret (published test vector)
    assert_eq!(twilio::body_hash(body), hash);
    let url = format!("{TWILIO_URL}&bodySHA256={hash}");
    assert_eq!(
        twilio::verify_with_body(
            TWILIO_TOKEN,
            &url,
            body,
            Some("a9nBmqA0ju/hNViExpshrM61xv4=") // pragma: allowlist secret (published test vector)
        ),
        Ok(())
    );
    assert_eq!(
        twilio::verify_with_body(
            TWILIO_TOKEN,
            &url,
            br#"{"property": "other"}"#,
            Some("a9nBmqA0ju/hNViExpshrM61xv4=") // pragma: allowlist secret (published test vector)
        ),
        Err(SignatureError::Mismatch),
        "a body that does not match its declared hash"
    );
    assert_eq!(
        twilio::verify_with_body(
            TWILIO_TOKEN,
            TWILIO_URL,
            body,
            Some("a9nBmqA0ju/hNViExpshrM61xv4=") // pragma: allowlist secret (published test vector)
        ),
        Err(SignatureError::Malformed),
        "no bodySHA256 in the URL"
    );
}

#[test]
fn twilio_port_forms_are_derived_safely() {
    assert_eq!(
        twilio::alternate_port_form("https://a.io/x").as_deref(),
        Some("https://a.io:443/x")
    );
    assert_eq!(
        twilio::alternate_port_form("https://a.io:443/x?y=1").as_deref(),
        Some("https://a.io/x?y=1")
    );
    assert_eq!(
        twilio::alternate_port_form("http://a.io").as_deref(),
        Some("http://a.io:80")
    );
    assert_eq!(
        twilio::alternate_port_form("https://a.io:8443/x"),
        None,
        "a non-default port has no alternate"
    );
    assert_eq!(
        twilio::alternate_port_form("https://[::1]/x").as_deref(),
        Some("https://[::1]:443/x")
    );
    assert_eq!(twilio::alternate_port_form("ftp://a.io"), None);
}

const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // pragma: allowlist secret (Svix docs vector)
const SVIX_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SVIX_TIMESTAMP: i64 = 1_614_265_330;
const SVIX_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SVIX_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; // pragma: allowlist secret

fn svix_verify(signatures: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    svix::verify(
        SVIX_SECRET,
        Some(SVIX_ID),
        Some(&SVIX_TIMESTAMP.to_string()),
        Some(signatures),
        body,
        now,
    )
}

#[test]
fn svix_matches_the_published_vector_among_several_signatures() {
    assert_eq!(
        svix::sign(SVIX_SECRET, SVIX_ID, SVIX_TIMESTAMP, SVIX_BODY),
        Ok(SVIX_SIGNATURE.to_owned())
    );
    assert_eq!(
        svix_verify(SVIX_SIGNATURE, SVIX_BODY, SVIX_TIMESTAMP),
        Ok(())
    );
    let rotated = format!("v1,bm90IHRoaXMgb25l v2,whatever {SVIX_SIGNATURE}");
    assert_eq!(
        svix_verify(&rotated, SVIX_BODY, SVIX_TIMESTAMP + 10),
        Ok(()),
        "any listed v1 signature may match"
    );
    assert_eq!(
        svix_verify(SVIX_SIGNATURE, br#"{"test": 1}"#, SVIX_TIMESTAMP),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        svix_verify("v2,abc", SVIX_BODY, SVIX_TIMESTAMP),
        Err(SignatureError::Malformed)
    );
}

#[test]
fn svix_refuses_timestamps_outside_five_minutes_either_way() {
    assert_eq!(
        svix_verify(SVIX_SIGNATURE, SVIX_BODY, SVIX_TIMESTAMP + 300),
        Ok(())
    );
    assert_eq!(
        svix_verify(SVIX_SIGNATURE, SVIX_BODY, SVIX_TIMESTAMP + 301),
        Err(SignatureError::Stale),
        "a replay"
    );
    assert_eq!(
        svix_verify(SVIX_SIGNATURE, SVIX_BODY, SVIX_TIMESTAMP - 301),
        Err(SignatureError::Stale),
        "from the future"
    );
    assert_eq!(
        svix::verify(
            SVIX_SECRET,
            Some(SVIX_ID),
            None,
            Some(SVIX_SIGNATURE),
            SVIX_BODY,
            SVIX_TIMESTAMP
        ),
        Err(SignatureError::Missing)
    );
}

#[test]
fn bland_is_hex_hmac_sha256_of_the_raw_body() {
    // RFC 4231 test case 2 (HMAC-SHA256 with key "Jefe").
    let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; // pragma: allowlist secret (published test vector)
    assert_eq!(
        bland::sign("Jefe", b"what do ya want for nothing?"),
        expected
    );
    assert_eq!(
        bland::verify("Jefe", b"what do ya want for nothing?", Some(expected)),
        Ok(())
    );
    assert_eq!(
        bland::verify(
            "Jefe",
            b"what do ya want for nothing?",
            Some(&expected.to_uppercase())
        ),
        Ok(())
    );
    assert_eq!(
        bland::verify("Jefe", b"something else", Some(expected)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        bland::verify("Jefe", b"x", Some("abc")),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        bland::verify("Jefe", b"x", None),
        Err(SignatureError::Missing)
    );
}
