//! The browser app compiled into the binary, so `cargo run -p kezd` on a machine without
//! Node.js serves it at `/`. Its bundle is built from `web/` and committed as `web/dist/`
//! under fixed file names (`web/vite.config.ts`), so this list is complete and CI proves the
//! committed bytes are what the sources build (`.ci/web_bundle.sh`). No build script: the
//! files are `include_bytes!`, and cargo rebuilds kezd when one of them changes.
//!
//! Client-side routes (any extension-less path) get `index.html`; an operator's `web_dir`
//! replaces this bundle ([`crate::static_files`]). The API paths never reach here
//! ([`crate::service`] answers them first), so §10's JSON 404 stays theirs.

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::body::{self, ResponseBody};
use crate::error::ApiError;

/// One file of the bundle.
struct Asset {
    /// Its path as requested.
    path: &'static str,
    /// Its content.
    bytes: &'static [u8],
    /// Its `Content-Type`.
    content_type: &'static str,
}

const INDEX: usize = 0;

const ASSETS: [Asset; 4] = [
    Asset {
        path: "/index.html",
        bytes: include_bytes!("../../web/dist/index.html"),
        content_type: "text/html; charset=utf-8",
    },
    Asset {
        path: "/assets/app.js",
        bytes: include_bytes!("../../web/dist/assets/app.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        path: "/assets/style.css",
        bytes: include_bytes!("../../web/dist/assets/style.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        path: "/favicon.svg",
        bytes: include_bytes!("../../web/dist/favicon.svg"),
        content_type: "image/svg+xml",
    },
];

/// Each asset's entity tag, the start of its SHA-256: names are fixed, so a browser
/// revalidates every load (`no-cache`) and an unchanged file costs a 304.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
                .expect("hex in quotes is a valid header value")
        })
        .collect()
});

/// The response for a `GET` of `path` with the request's `headers`: the asset, `index.html`
/// for a client-side route, or `not_found` for a missing file (a path whose last segment has
/// a `.`).
pub fn serve(path: &str, headers: &HeaderMap) -> Result<Response<ResponseBody>, ApiError> {
    let index = match ASSETS.iter().position(|asset| asset.path == path) {
        Some(found) => found,
        None if is_app_route(path) => INDEX,
        None => return Err(ApiError::NotFound),
    };
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let mut response = if headers.get(header::IF_NONE_MATCH) == Some(etag) {
        let mut response = Response::new(body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        body::response(StatusCode::OK, asset.content_type, body::full(asset.bytes))
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, etag.clone());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whether `path` is one of the app's own routes: its last segment has no extension, and it
/// is not an API prefix without its slash.
fn is_app_route(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !last.contains('.') && path != "/v1" && !path.starts_with("/.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_routes_fall_back_but_files_and_api_prefixes_do_not() {
        assert!(is_app_route("/"));
        assert!(is_app_route("/chat/alice"));
        assert!(!is_app_route("/missing.png"));
        assert!(!is_app_route("/v1"));
        assert!(!is_app_route("/.well-known"));
    }

    #[test]
    fn the_index_is_the_app_page() {
        let page = std::str::from_utf8(ASSETS[INDEX].bytes).expect("utf-8");
        assert!(page.contains("/assets/app.js"));
        assert!(page.contains("/assets/style.css"));
    }
}
