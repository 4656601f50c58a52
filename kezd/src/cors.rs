//! CORS for the API: any origin may call it, because no request relies on cookies or ambient
//! credentials (authentication is a signature the page must compute), so a browser app on
//! any site can talk to any KEZ server. Static files and `/metrics` get no CORS headers.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use crate::body::{self, ResponseBody};

/// Request headers a browser may send to the API.
pub const ALLOW_HEADERS: &str =
    "Content-Type, X-KEZ-Auth, Last-Event-ID, KEZ-Registration-Token, X-Request-Id";

/// Response headers a browser script may read.
pub const EXPOSE_HEADERS: &str = "Retry-After, X-Request-Id";

/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: u32 = 86_400;

/// Whether `path` is part of the API (and so gets CORS headers).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/.well-known/")
}

/// What an API path accepts: its routes' methods and `OPTIONS`, which every API path answers
/// (SPEC §10: the `Allow` of its 405s and of `OPTIONS`).
pub fn with_options(allow: &[Method]) -> Vec<Method> {
    allow
        .iter()
        .cloned()
        .chain(std::iter::once(Method::OPTIONS))
        .collect()
}

/// The answer to `OPTIONS` on an API path accepting `allow` (SPEC §10): 204 with `Allow`,
/// and the CORS preflight headers a browser asks for.
pub fn preflight(allow: &[Method]) -> Response<ResponseBody> {
    let methods = with_options(allow)
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = Response::new(body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&methods) {
        headers.insert(header::ALLOW, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(value) = HeaderValue::from_str(&methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(MAX_AGE_SECS),
    );
    response
}

/// Adds the headers every API response carries.
pub fn decorate(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_lists_the_path_methods() {
        let response = preflight(&[Method::GET, Method::HEAD]);
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, HEAD, OPTIONS"
        );
        assert_eq!(h[header::ALLOW], "GET, HEAD, OPTIONS");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], ALLOW_HEADERS);
    }

    #[test]
    fn api_paths() {
        assert!(is_api_path("/v1/healthz") && is_api_path("/.well-known/webfinger"));
        assert!(!is_api_path("/") && !is_api_path("/metrics") && !is_api_path("/v1"));
    }
}
