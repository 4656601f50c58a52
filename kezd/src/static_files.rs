//! The browser app served from a configured web directory, in place of the bundle compiled
//! into the binary ([`crate::web_app`]): for an operator who builds `web/` their own way. The path is the attacker's: dot segments, encoded slashes and
//! NULs are refused before touching the file system, and every file is canonicalized and must
//! still lie inside the (canonical) web directory, so neither `..` nor a symlink can reach
//! outside it. Unknown extension-less paths get `index.html` (the app routes on the client).

use std::path::{Path, PathBuf};

use http::{HeaderValue, Response, header};

use crate::body::{self, ResponseBody};
use crate::error::ApiError;
use crate::percent;

/// The web directory.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    /// Canonical, so prefix checks compare real paths.
    root: PathBuf,
}

/// The web directory is unusable.
#[derive(Debug, thiserror::Error)]
pub enum StaticFilesError {
    /// It does not exist or cannot be resolved.
    #[error("web directory {}: {source}", path.display())]
    Resolve {
        /// The configured path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a directory.
    #[error("web directory {} is not a directory", path.display())]
    NotADirectory {
        /// The configured path.
        path: PathBuf,
    },
}

/// A file found for a request.
struct Found {
    /// Its real path.
    path: PathBuf,
    /// Whether it is an HTML entry point, which must be revalidated on every load so a new
    /// deployment is picked up.
    is_entry: bool,
}

impl StaticFiles {
    /// Serves `dir`, which must exist.
    pub fn new(dir: &Path) -> Result<Self, StaticFilesError> {
        let root = std::fs::canonicalize(dir).map_err(|source| StaticFilesError::Resolve {
            path: dir.to_owned(),
            source,
        })?;
        if !root.is_dir() {
            return Err(StaticFilesError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        Ok(StaticFiles { root })
    }

    /// The response for a `GET` of `path` (still percent-encoded); `not_found` when there is
    /// no such file and no fallback applies.
    pub async fn serve(&self, path: &str) -> Result<Response<ResponseBody>, ApiError> {
        let segments = safe_segments(path).ok_or(ApiError::NotFound)?;
        let candidate = segments
            .iter()
            .fold(self.root.clone(), |dir, segment| dir.join(segment));
        let found = match self.resolve(&candidate).await {
            Lookup::Found(found) => found,
            Lookup::Outside => return Err(ApiError::NotFound),
            Lookup::Missing => {
                let has_extension = segments.last().is_some_and(|s| s.contains('.'));
                if has_extension {
                    return Err(ApiError::NotFound);
                }
                match self.resolve(&self.root.join("index.html")).await {
                    Lookup::Found(found) => found,
                    Lookup::Missing | Lookup::Outside => return Err(ApiError::NotFound),
                }
            }
        };
        let bytes = tokio::fs::read(&found.path)
            .await
            .map_err(|e| ApiError::internal(format!("reading {}: {e}", found.path.display())))?;
        Ok(file_response(&found, bytes))
    }

    async fn resolve(&self, candidate: &Path) -> Lookup {
        let Ok(real) = tokio::fs::canonicalize(candidate).await else {
            return Lookup::Missing;
        };
        if !real.starts_with(&self.root) {
            return Lookup::Outside;
        }
        match tokio::fs::metadata(&real).await {
            Ok(meta) if meta.is_file() => Lookup::Found(Found {
                is_entry: is_html(&real),
                path: real,
            }),
            Ok(meta) if meta.is_dir() => {
                let index = real.join("index.html");
                match tokio::fs::canonicalize(&index).await {
                    Ok(real_index) if !real_index.starts_with(&self.root) => Lookup::Outside,
                    Ok(real_index) if real_index.is_file() => Lookup::Found(Found {
                        path: real_index,
                        is_entry: true,
                    }),
                    _ => Lookup::Missing,
                }
            }
            _ => Lookup::Missing,
        }
    }
}

enum Lookup {
    Found(Found),
    Missing,
    Outside,
}

/// The decoded segments of `path`, or `None` when any is unsafe: `.`/`..`, hidden (leading
/// `.`), or containing a separator or NUL once decoded. Empty segments are dropped.
fn safe_segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(|raw| {
            let segment = percent::decode(raw, false).ok()?;
            let unsafe_segment = segment.starts_with('.')
                || segment.contains(['/', '\\', '\0'])
                || segment.contains(':');
            (!unsafe_segment).then_some(segment)
        })
        .collect()
}

fn is_html(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "html")
}

fn file_response(found: &Found, bytes: Vec<u8>) -> Response<ResponseBody> {
    let mime = mime_guess::from_path(&found.path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || mime.subtype() == mime_guess::mime::JAVASCRIPT
        || mime.subtype() == mime_guess::mime::JSON;
    let content_type = if textual && mime.get_param("charset").is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let mut response = Response::new(body::full(bytes));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if found.is_entry {
            "no-cache"
        } else {
            "public, max-age=3600"
        }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_segments_are_refused_before_any_file_access() {
        assert_eq!(
            safe_segments("/a/b.js"),
            Some(vec!["a".into(), "b.js".into()])
        );
        assert_eq!(safe_segments("/"), Some(vec![]));
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a%2fb",
            "/a%5cb",
            "/.env",
            "/a/./b",
            "/a%00b",
            "/%zz",
            "/c:x",
        ] {
            assert_eq!(safe_segments(bad), None, "{bad}");
        }
    }
}
