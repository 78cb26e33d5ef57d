//! Calls: the phone calls of a tenant, newest first.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::tenancy::{TenantId, UserId};

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A customer called the company.
    Inbound,
    /// The company called a customer.
    Outbound,
}

impl Direction {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Otto's id.
    pub id: Uuid,
    /// The owning tenant.
    pub tenant_id: TenantId,
    /// Where the call came from (`callrail`, `twilio`).
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's name, when the provider knows it.
    pub customer_name: Option<String>,
    /// The customer's number (E.164).
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// What the team recorded about it.
    pub outcome: CallOutcome,
}

/// What a team recorded about a call: whether it booked a job, when, notes, and the
/// rep who owns it (a rep sees only the calls assigned to them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOutcome {
    /// Whether the call booked an appointment; `None` until someone says.
    pub booked: Option<bool>,
    /// When the booked appointment is.
    pub appointment_at: Option<DateTime<Utc>>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// The rep the call is assigned to.
    pub assigned_rep: Option<UserId>,
}

/// A change of a call's outcome: an outer `None` leaves the field as it is, `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeChange {
    /// New `booked`.
    pub booked: Option<Option<bool>>,
    /// New `appointment_at`.
    pub appointment_at: Option<Option<DateTime<Utc>>>,
    /// New `notes`.
    pub notes: Option<Option<String>>,
    /// New `assigned_rep`.
    pub assigned_rep: Option<Option<UserId>>,
}

impl OutcomeChange {
    /// `outcome` with this change applied.
    pub fn applied_to(&self, outcome: &CallOutcome) -> CallOutcome {
        CallOutcome {
            booked: self.booked.unwrap_or(outcome.booked),
            appointment_at: self.appointment_at.unwrap_or(outcome.appointment_at),
            notes: self.notes.clone().unwrap_or_else(|| outcome.notes.clone()),
            assigned_rep: self
                .assigned_rep
                .clone()
                .unwrap_or_else(|| outcome.assigned_rep.clone()),
        }
    }

    /// The names of the fields it sets (`booked`, `appointment_at`, `notes`,
    /// `assigned_rep`), for the call's `call.updated` event.
    pub fn changed(&self) -> Vec<&'static str> {
        [
            ("booked", self.booked.is_some()),
            ("appointment_at", self.appointment_at.is_some()),
            ("notes", self.notes.is_some()),
            ("assigned_rep", self.assigned_rep.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// Text search over calls, by terms a store can find with an index seek (a prefix
/// range over an ordered index), never a scan of the tenant's calls:
///
/// - digits match the end of the customer's number: its last digits, or the whole
///   number in any format (`"555 123-4567"`, `"+1 (555) 123-4567"`);
/// - other text matches the customer's name word by word: every word searched starts
///   a word of the name, case-insensitively (`"ana"` finds "Ana Lima" and "Lima,
///   Anabel", `"ana l"` finds "Ana Lima").
///
/// Both sides are reduced to terms by [`search_terms`] and [`CallSearch::prefixes`],
/// so a store that indexes [`search_terms`] and the in-memory fake that compares them
/// agree by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallSearch {
    /// Digits the number must end with (`"555 123"` searches `555123`).
    Number(String),
    /// Lower-cased text whose words must each start a word of the name.
    Name(String),
}

/// Longest term kept: a longer name word or number is indexed (and searched) by its
/// first characters, so an index key stays small whatever a provider sends.
pub const MAX_SEARCH_TERM_CHARS: usize = 64;

/// Most words of one name that are indexed, and of one search that are matched.
pub const MAX_SEARCH_WORDS: usize = 16;

/// The prefix of a number term: the number's digits, last digit first.
const NUMBER_TERM: char = 'n';
/// The prefix of a name term: one lower-cased word of the name.
const WORD_TERM: char = 'w';

fn bounded(term: String) -> String {
    match term.char_indices().nth(MAX_SEARCH_TERM_CHARS) {
        Some((end, _)) => term[..end].to_owned(),
        None => term,
    }
}

fn number_term(digits: impl DoubleEndedIterator<Item = char>) -> String {
    bounded(std::iter::once(NUMBER_TERM).chain(digits.rev()).collect())
}

fn word_terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .take(MAX_SEARCH_WORDS)
        .map(|word| bounded(std::iter::once(WORD_TERM).chain(word.chars()).collect()))
}

/// The terms a store indexes for a call's customer: one for the number (its digits
/// reversed, so "ends with" is a prefix), one per word of the lower-cased name.
/// Sorted and without repeats.
pub fn search_terms(name: Option<&str>, number: Option<&str>) -> Vec<String> {
    let mut terms: Vec<String> = name
        .map(|name| word_terms(&name.to_lowercase()).collect())
        .unwrap_or_default();
    if let Some(number) = number {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            terms.push(number_term(digits.chars()));
        }
    }
    terms.sort();
    terms.dedup();
    terms
}

impl CallSearch {
    /// The search `text` asks for; `None` for blank text.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let looks_like_number = text.chars().any(|c| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        Some(if looks_like_number {
            CallSearch::Number(text.chars().filter(char::is_ascii_digit).collect())
        } else {
            CallSearch::Name(text.to_lowercase())
        })
    }

    /// The term prefixes a call must have, each one a prefix of at least one of the
    /// call's [`search_terms`].
    pub fn prefixes(&self) -> Vec<String> {
        match self {
            CallSearch::Number(digits) => vec![number_term(digits.chars())],
            CallSearch::Name(text) => word_terms(text).collect(),
        }
    }

    /// Whether `call` matches.
    pub fn matches(&self, call: &Call) -> bool {
        let terms = search_terms(
            call.customer_name.as_deref(),
            call.customer_number.as_deref(),
        );
        self.prefixes()
            .iter()
            .all(|prefix| terms.iter().any(|term| term.starts_with(prefix.as_str())))
    }
}

/// Which calls a listing returns; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Calls that started at or after this time.
    pub started_from: Option<DateTime<Utc>>,
    /// Calls that started before this time.
    pub started_before: Option<DateTime<Utc>>,
    /// Calls of this direction.
    pub direction: Option<Direction>,
    /// Answered (`true`) or missed (`false`) calls.
    pub answered: Option<bool>,
    /// Calls with (`true`) or without (`false`) a recording.
    pub has_recording: Option<bool>,
    /// Calls whose customer matches.
    pub search: Option<CallSearch>,
    /// Calls assigned to this rep (set by the service for reps, never by clients).
    pub assigned_to: Option<UserId>,
}

impl CallFilter {
    /// Whether `call`, which has a recording when `has_recording`, passes. Stores
    /// answer the same in SQL; fakes use this.
    pub fn matches(&self, call: &Call, has_recording: bool) -> bool {
        self.started_from.is_none_or(|from| call.started_at >= from)
            && self
                .started_before
                .is_none_or(|before| call.started_at < before)
            && self
                .direction
                .is_none_or(|direction| call.direction == direction)
            && self
                .answered
                .is_none_or(|answered| call.answered == answered)
            && self
                .has_recording
                .is_none_or(|wanted| wanted == has_recording)
            && self
                .search
                .as_ref()
                .is_none_or(|search| search.matches(call))
            && self
                .assigned_to
                .as_ref()
                .is_none_or(|rep| call.outcome.assigned_rep.as_ref() == Some(rep))
    }
}

/// A call to record (the repository assigns the id and scope's tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Where the call came from.
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's number.
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

/// A position in the newest-first list of calls: the (start time, id) of the last
/// call of the previous page. Ties on the start time are broken by id, so paging is
/// stable while new calls arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    /// Start time of the last call seen.
    pub started_at: DateTime<Utc>,
    /// Id of the last call seen.
    pub id: Uuid,
}

impl CallCursor {
    /// The cursor after `call`.
    pub fn after(call: &Call) -> Self {
        CallCursor {
            started_at: call.started_at,
            id: call.id,
        }
    }

    /// An opaque text form for APIs: `<unix micros>.<uuid>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.started_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Parses [`CallCursor::encode`]'s form; `None` for anything else, a time outside
    /// years 1-9999 included.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        let started_at = DateTime::from_timestamp_micros(micros.parse().ok()?)
            .filter(crate::validation::is_storable_time)?;
        Some(CallCursor {
            started_at,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// The cursor of the next page, or `None` on the last page.
    pub next: Option<C>,
}

/// Most items a page may hold.
pub const MAX_PAGE_SIZE: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    fn a_call_named(name: &str, number: &str) -> Call {
        Call {
            id: Uuid::nil(),
            tenant_id: TenantId::parse("org_a").expect("valid"),
            provider: "callrail".into(),
            external_id: "C1".into(),
            direction: Direction::Inbound,
            customer_name: Some(name.into()),
            customer_number: Some(number.into()),
            answered: true,
            duration_seconds: 1,
            started_at: Utc::now(),
            outcome: CallOutcome::default(),
        }
    }

    #[test]
    fn numbers_match_by_their_last_digits_in_any_format() {
        let call = a_call_named("Ana Lima", "+15551234567");
        for found in ["4567", "123-4567", "(555) 123-4567", "+1 555 123 4567"] {
            assert!(
                CallSearch::parse(found).is_some_and(|s| s.matches(&call)),
                "{found}"
            );
        }
        for missed in ["555", "4568", "25551234567"] {
            assert!(
                !CallSearch::parse(missed).is_some_and(|s| s.matches(&call)),
                "{missed}"
            );
        }
    }

    #[test]
    fn names_match_word_by_word_from_the_start_of_each_word() {
        let call = a_call_named("Lima, Anabel  de Souza", "+15551234567");
        for found in ["ana", "ANABEL", "souza ana", "lima,", "de"] {
            assert!(
                CallSearch::parse(found).is_some_and(|s| s.matches(&call)),
                "{found}"
            );
        }
        for missed in ["nabel", "ana x", "lima;"] {
            assert!(
                !CallSearch::parse(missed).is_some_and(|s| s.matches(&call)),
                "{missed}"
            );
        }
    }

    #[test]
    fn search_terms_are_bounded_whatever_the_provider_sends() {
        let long_word = "a".repeat(10_000);
        let many_words = "word ".repeat(1_000);
        let terms = search_terms(
            Some(&format!("{long_word} {many_words}")),
            Some(&"9".repeat(500)),
        );
        assert!(terms.len() <= MAX_SEARCH_WORDS + 1, "{}", terms.len());
        assert!(
            terms
                .iter()
                .all(|term| term.chars().count() <= MAX_SEARCH_TERM_CHARS)
        );
        let call = a_call_named(&long_word, "+15551234567");
        assert!(CallSearch::parse(&long_word).is_some_and(|s| s.matches(&call)));
    }

    #[test]
    fn searches_tell_numbers_from_names() {
        assert_eq!(
            CallSearch::parse(" (555) 123-4 "),
            Some(CallSearch::Number("5551234".into()))
        );
        assert_eq!(
            CallSearch::parse("+1 555"),
            Some(CallSearch::Number("1555".into()))
        );
        assert_eq!(
            CallSearch::parse("Ana M"),
            Some(CallSearch::Name("ana m".into()))
        );
        assert_eq!(
            CallSearch::parse("R2D2"),
            Some(CallSearch::Name("r2d2".into()))
        );
        assert_eq!(CallSearch::parse("   "), None);
    }

    #[test]
    fn outcome_changes_keep_absent_fields_and_clear_null_ones() {
        let before = CallOutcome {
            booked: Some(true),
            appointment_at: None,
            notes: Some("call back".into()),
            assigned_rep: None,
        };
        let change = OutcomeChange {
            notes: Some(None),
            booked: Some(Some(false)),
            ..OutcomeChange::default()
        };
        assert_eq!(
            change.applied_to(&before),
            CallOutcome {
                booked: Some(false),
                notes: None,
                ..before.clone()
            }
        );
        assert_eq!(OutcomeChange::default().applied_to(&before), before);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = CallCursor {
            started_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00.123456Z")
                .expect("valid")
                .to_utc(),
            id: Uuid::from_u128(42),
        };
        assert_eq!(CallCursor::decode(&cursor.encode()), Some(cursor));
        for garbage in [
            "",
            "abc",
            "1.2",
            "x.00000000000000000000000000000042",
            "99999999999999999999.0",
        ] {
            assert_eq!(CallCursor::decode(garbage), None, "{garbage}");
        }
    }
}
