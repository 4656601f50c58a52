//! The security headers of every response of the browser app (embedded or from `web_dir`).
//! The app talks only to this server (remote users are resolved through it), so the policy
//! allows nothing but this origin: no inline script, no third-party request of any kind, no
//! framing. `'wasm-unsafe-eval'` is there for one reason: argon2id, which protects the
//! identity key and the history at rest, runs as WebAssembly compiled in the page.

use http::{HeaderMap, HeaderValue, header};

/// The Content-Security-Policy of the app.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Adds the app's security headers to a response's `headers`.
pub fn decorate(headers: &mut HeaderMap) {
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
