//! The documented names of routes.
//!
//! poem-openapi registers `/calls/{id}` with poem as `/calls/:param0`; metrics labels
//! and problem details must speak the documented language (`/calls/{id}`, parameter
//! `id`). This table maps one to the other, built once from the OpenAPI document.

use std::collections::HashMap;

/// Documented route templates by their shape (parameters blanked).
#[derive(Debug, Clone, Default)]
pub struct RouteNames {
    by_shape: HashMap<String, String>,
}

/// A route with every parameter segment replaced by `*`.
fn shape(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            let parameter = segment.starts_with(':')
                || segment.starts_with('*')
                || (segment.starts_with('{') && segment.ends_with('}'));
            if parameter { "*" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl RouteNames {
    /// The names of every path of an OpenAPI document.
    pub fn from_openapi(document: &str) -> Self {
        let paths = serde_json::from_str::<serde_json::Value>(document)
            .ok()
            .and_then(|document| {
                document
                    .get("paths")
                    .and_then(|paths| paths.as_object().cloned())
            })
            .unwrap_or_default();
        RouteNames {
            by_shape: paths
                .keys()
                .map(|path| (shape(path), path.clone()))
                .collect(),
        }
    }

    /// The documented template of a poem route pattern (`/calls/:param0` →
    /// `/calls/{id}`); undocumented patterns get `{name}` placeholders.
    pub fn template(&self, pattern: &str) -> String {
        if let Some(documented) = self.by_shape.get(&shape(pattern)) {
            return documented.clone();
        }
        pattern
            .split('/')
            .map(|segment| {
                match segment
                    .strip_prefix(':')
                    .or_else(|| segment.strip_prefix('*'))
                {
                    Some(name) if !name.is_empty() => format!("{{{name}}}"),
                    _ => segment.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The documented name of the `index`-th parameter of a route pattern.
    pub fn parameter(&self, pattern: &str, index: usize) -> Option<String> {
        self.template(pattern)
            .split('/')
            .filter_map(|segment| {
                segment
                    .strip_prefix('{')
                    .and_then(|rest| rest.strip_suffix('}'))
            })
            .nth(index)
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"{"paths": {"/api/v1/calls/{id}": {}, "/health": {}}}"#;

    #[test]
    fn internal_patterns_get_their_documented_names() {
        let names = RouteNames::from_openapi(DOCUMENT);
        assert_eq!(
            names.template("/api/v1/calls/:param0"),
            "/api/v1/calls/{id}"
        );
        assert_eq!(names.template("/health"), "/health");
        assert_eq!(
            names.parameter("/api/v1/calls/:param0", 0).as_deref(),
            Some("id")
        );
        assert_eq!(names.parameter("/api/v1/calls/:param0", 1), None);
    }

    #[test]
    fn undocumented_patterns_keep_their_own_names() {
        let names = RouteNames::from_openapi(DOCUMENT);
        assert_eq!(names.template("/files/*path"), "/files/{path}");
        assert_eq!(names.template("/a/:b/c"), "/a/{b}/c");
        assert_eq!(
            RouteNames::from_openapi("not json").template("/x/:y"),
            "/x/{y}"
        );
    }
}
