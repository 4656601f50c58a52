//! An [`ApiError`] as the response a client receives (SPEC §10): `{"error": code, "message":
//! text}` with the code's status, and the headers some codes carry (`Retry-After`, `Allow`).
//! Apart from [`crate::error`], so that errors know nothing of response bodies.

use http::{HeaderValue, Method, Response, StatusCode, header};
use kez_spec::api::error_body::ErrorBody;

use crate::body::{self, ResponseBody};
use crate::error::{ApiError, UNAVAILABLE_RETRY_AFTER, retry_after_secs};

/// The one mapping from an error to its response.
pub fn error_response(error: &ApiError) -> Response<ResponseBody> {
    let payload = ErrorBody {
        error: error.code().to_owned(),
        message: error.public_message(),
    };
    // Two strings always serialise; the empty body is never sent.
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    let mut response = Response::new(body::full(payload));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let retry_after = match error {
        ApiError::RateLimited { retry_after, .. } | ApiError::Overloaded { retry_after, .. } => {
            Some(*retry_after)
        }
        _ if error.status() == StatusCode::SERVICE_UNAVAILABLE => Some(UNAVAILABLE_RETRY_AFTER),
        _ => None,
    };
    if let Some(wait) = retry_after {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(wait)),
        );
    }
    if let ApiError::MethodNotAllowed { allow } = error {
        let list = allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(value) = HeaderValue::from_str(&list) {
            headers.insert(header::ALLOW, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::budget::{OverBudget, Scope};
    use crate::error::tests::every_code;

    #[tokio::test]
    async fn responses_carry_code_message_and_headers() {
        use http_body_util::BodyExt;
        for (error, code, status) in every_code() {
            let response = error_response(&error);
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(json["error"], code);
            assert!(json["message"].is_string());
            assert_eq!(json.as_object().map(|o| o.len()), Some(2));
        }
        let limited = error_response(&ApiError::RateLimited {
            limit: "client",
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(limited.headers()[header::RETRY_AFTER], "2");
        for (error, _, status) in every_code() {
            // SPEC §10: 503 answers SHOULD carry Retry-After; kezd's always do.
            if status == 503 {
                assert!(
                    error_response(&error)
                        .headers()
                        .contains_key(header::RETRY_AFTER)
                );
            }
        }
        let over_budget = ApiError::from(OverBudget {
            scope: Scope::Total,
            requested: 2,
            in_use: 1,
            limit: 2,
        });
        assert_eq!(over_budget.code(), "unavailable");
        assert_eq!(
            error_response(&over_budget).headers()[header::RETRY_AFTER],
            "2"
        );
        let overloaded = error_response(&ApiError::Overloaded {
            what: "transactions in flight",
            retry_after: Duration::from_secs(5),
        });
        assert_eq!(overloaded.headers()[header::RETRY_AFTER], "5");
        let not_allowed = error_response(&ApiError::MethodNotAllowed {
            allow: vec![Method::GET, Method::HEAD],
        });
        assert_eq!(not_allowed.headers()[header::ALLOW], "GET, HEAD");
    }
}
