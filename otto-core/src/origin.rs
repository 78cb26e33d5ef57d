//! Allowed-origin patterns: exact origins, scheme wildcards and subdomain wildcards.
//!
//! One policy decides both which browser origins may call the API (CORS) and which
//! applications a Clerk session token may have been issued to (`azp`).

use std::fmt;

/// One entry of ALLOWED_ORIGINS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// Exactly this origin (`https://app.example.com`, `http://localhost:3000`).
    Exact(String),
    /// Any origin of this scheme (`exp://*`, for Expo development clients).
    AnyWithScheme(String),
    /// Any subdomain of a host, same scheme and port (`https://*.vercel.app`). The
    /// bare host itself is not included.
    Subdomains {
        /// Scheme that must match.
        scheme: String,
        /// `.vercel.app`: what the origin's host must end with.
        host_suffix: String,
        /// Explicit port, or `None` for the scheme's default.
        port: Option<u16>,
    },
}

/// An origin split into its parts, normalised (lower case, default port dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]` with nothing after it but an optional `/`.
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return None;
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let (host, port) = split_port(authority)?;
        let host = host.to_ascii_lowercase();
        let valid_host = !host.is_empty()
            && host.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':' | '*')
            });
        if !valid_host {
            return None;
        }
        let port = port.filter(|port| Some(*port) != default_port(&scheme));
        Some(Origin { scheme, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}://{}:{port}", self.scheme, self.host),
            None => write!(f, "{}://{}", self.scheme, self.host),
        }
    }
}

fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    // IPv6 literals carry colons inside brackets: only a colon after `]` is a port.
    let port_colon = match authority.rfind(']') {
        Some(bracket) => authority[bracket..]
            .find(':')
            .map(|offset| bracket + offset),
        None => authority.rfind(':'),
    };
    match port_colon {
        Some(colon) => {
            let port = authority[colon + 1..].parse::<u16>().ok()?;
            Some((&authority[..colon], Some(port)))
        }
        None => Some((authority, None)),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

impl OriginPattern {
    /// Parses one pattern. `*` alone is refused: credentials are allowed, so every
    /// allowed origin must be named.
    pub fn parse(text: &str) -> Result<OriginPattern, String> {
        let text = text.trim();
        if text == "*" {
            return Err("`*` is not allowed (credentialed CORS needs named origins)".to_owned());
        }
        if let Some(scheme) = text.strip_suffix("://*") {
            let origin = Origin::parse(&format!("{scheme}://placeholder"))
                .ok_or_else(|| format!("`{text}` is not a valid scheme wildcard"))?;
            // Any web origin at all would defeat the allowlist; app schemes (exp://)
            // are only reachable from the app itself.
            if matches!(origin.scheme.as_str(), "http" | "https" | "ws" | "wss") {
                return Err(format!(
                    "`{text}` would allow every website; name the hosts or use https://*.domain"
                ));
            }
            return Ok(OriginPattern::AnyWithScheme(origin.scheme));
        }
        let origin = Origin::parse(text)
            .ok_or_else(|| format!("`{text}` is not an origin (scheme://host[:port])"))?;
        match origin.host.strip_prefix('*') {
            Some(suffix)
                if suffix.starts_with('.') && suffix.len() > 1 && !suffix[1..].contains('*') =>
            {
                Ok(OriginPattern::Subdomains {
                    scheme: origin.scheme,
                    host_suffix: suffix.to_owned(),
                    port: origin.port,
                })
            }
            Some(_) => Err(format!(
                "`{text}`: a wildcard must be a whole leading label, as in https://*.example.com"
            )),
            None if origin.host.contains('*') => {
                Err(format!("`{text}`: a wildcard must be the leading label"))
            }
            None => Ok(OriginPattern::Exact(origin.to_string())),
        }
    }

    /// Parses a comma-separated list, ignoring empty entries.
    pub fn parse_list(text: &str) -> Result<Vec<OriginPattern>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(OriginPattern::parse)
            .collect()
    }

    /// Whether the `Origin` header value `origin` is allowed by this pattern.
    pub fn matches(&self, origin: &str) -> bool {
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        if origin.host.contains('*') {
            return false;
        }
        match self {
            OriginPattern::Exact(expected) => origin.to_string() == *expected,
            OriginPattern::AnyWithScheme(scheme) => origin.scheme == *scheme,
            OriginPattern::Subdomains {
                scheme,
                host_suffix,
                port,
            } => {
                origin.scheme == *scheme
                    && origin.port == *port
                    && origin.host.len() > host_suffix.len()
                    && origin.host.ends_with(host_suffix.as_str())
                    && !origin.host[..origin.host.len() - host_suffix.len()].ends_with('.')
            }
        }
    }

    /// Whether this pattern can match an `http:` or `https:` origin (the default
    /// authorized parties of Clerk session tokens are the web entries of
    /// ALLOWED_ORIGINS).
    pub fn is_web(&self) -> bool {
        let scheme = match self {
            OriginPattern::Exact(origin) => origin.split("://").next().unwrap_or_default(),
            OriginPattern::AnyWithScheme(scheme) | OriginPattern::Subdomains { scheme, .. } => {
                scheme
            }
        };
        matches!(scheme, "http" | "https")
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Exact(origin) => f.write_str(origin),
            OriginPattern::AnyWithScheme(scheme) => write!(f, "{scheme}://*"),
            OriginPattern::Subdomains {
                scheme,
                host_suffix,
                port: Some(port),
            } => {
                write!(f, "{scheme}://*{host_suffix}:{port}")
            }
            OriginPattern::Subdomains {
                scheme,
                host_suffix,
                port: None,
            } => write!(f, "{scheme}://*{host_suffix}"),
        }
    }
}

/// Whether any pattern allows `origin`.
pub fn is_allowed(patterns: &[OriginPattern], origin: &str) -> bool {
    patterns.iter().any(|pattern| pattern.matches(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(text: &str) -> Vec<OriginPattern> {
        OriginPattern::parse_list(text).expect("valid patterns")
    }

    #[test]
    fn exact_origins_match_after_normalisation_only() {
        let allowed = patterns("https://App.Example.com, http://localhost:3000");
        assert!(is_allowed(&allowed, "https://app.example.com"));
        assert!(is_allowed(&allowed, "https://APP.example.com:443"));
        assert!(is_allowed(&allowed, "http://localhost:3000"));
        assert!(!is_allowed(&allowed, "http://localhost:3001"));
        assert!(
            !is_allowed(&allowed, "http://app.example.com"),
            "scheme matters"
        );
        assert!(!is_allowed(&allowed, "https://app.example.com.evil.io"));
        assert!(!is_allowed(&allowed, "https://evilapp.example.com"));
        assert!(!is_allowed(&allowed, "null"));
        assert!(!is_allowed(&allowed, ""));
    }

    #[test]
    fn scheme_wildcards_allow_any_host_of_that_scheme() {
        let allowed = patterns("exp://*");
        assert!(is_allowed(&allowed, "exp://192.168.1.20:8081"));
        assert!(is_allowed(&allowed, "exp://u.expo.dev"));
        assert!(!is_allowed(&allowed, "https://u.expo.dev"));
        assert!(!is_allowed(&allowed, "expo://u.expo.dev"));
    }

    #[test]
    fn subdomain_wildcards_allow_subdomains_but_not_the_bare_host_or_lookalikes() {
        let allowed = patterns("https://*.vercel.app");
        assert!(is_allowed(&allowed, "https://otto-git-main.vercel.app"));
        assert!(is_allowed(&allowed, "https://a.b.vercel.app"));
        assert!(!is_allowed(&allowed, "https://vercel.app"));
        assert!(!is_allowed(&allowed, "https://evilvercel.app"));
        assert!(
            !is_allowed(&allowed, "http://otto.vercel.app"),
            "scheme matters"
        );
        assert!(
            !is_allowed(&allowed, "https://otto.vercel.app:8443"),
            "port matters"
        );
        assert!(!is_allowed(&allowed, "https://otto.vercel.app.evil.io"));
        assert!(
            !is_allowed(&allowed, "https://*.vercel.app"),
            "a literal star is not an origin"
        );
    }

    #[test]
    fn origins_with_paths_credentials_or_garbage_never_match() {
        let allowed = patterns("https://app.example.com, exp://*");
        for origin in [
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com?x=1",
            "app.example.com",
            "https://app.example.com:99999",
            "exp://",
            "://app.example.com",
        ] {
            assert!(!is_allowed(&allowed, origin), "{origin}");
        }
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        for bad in [
            "*",
            "example.com",
            "https://exa*mple.com",
            "https://*",
            "https://*.",
            "https://a.*.com",
            "https://x.com/path",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_print_as_written() {
        let text = "https://app.example.com,exp://*,https://*.vercel.app,http://*.local.test:8080";
        let printed: Vec<String> = patterns(text).iter().map(ToString::to_string).collect();
        assert_eq!(printed.join(","), text);
    }
}
