//! What the property-based fuzz suites share: their configuration and hostile text.
//! (otto-core's suite keeps its own copy: otto-core cannot depend on the testkit.)

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// `default` cases, or `PROPTEST_CASES` when set (`ProptestConfig::with_cases` would
/// ignore the variable). Failing inputs are kept beside the test file, as proptest's
/// default cannot locate an integration test.
pub fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Text as hostile clients send it: printable Unicode, any scalar value including
/// controls and NUL, and the lossy decoding of arbitrary bytes.
///
/// Boxed: unboxed, nested strategy types make value trees large enough to overflow a
/// debug build's test thread stack.
pub fn hostile_text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        vec(any::<char>(), 0..256).prop_map(String::from_iter),
        vec(any::<u8>(), 0..256).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
    .boxed()
}
