//! The raw variables configuration is parsed from.

use std::collections::BTreeMap;

/// Environment variables as text, with empty values treated as unset.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    variables: BTreeMap<String, String>,
}

impl Environment {
    /// The process environment over the variables of `./.env` (the process wins, so
    /// a deployment's real environment always overrides a stray file).
    pub fn from_process() -> Self {
        let mut variables = BTreeMap::new();
        if let Ok(entries) = dotenvy::dotenv_iter() {
            for (key, value) in entries.flatten() {
                variables.insert(key, value);
            }
        }
        variables.extend(std::env::vars());
        Environment { variables }
    }

    /// An environment holding exactly these variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Environment {
            variables: pairs
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
        }
    }

    /// The trimmed value of `name`, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.variables
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The raw value of `name`, even when empty (production checks need to tell
    /// "set to empty" from "unset" only to word the message).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }
}
