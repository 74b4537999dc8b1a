//! Bearer-token authentication (RFC 6750 §2.1) of every request, and the rule that read
//! tokens may only use GET.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dnsbl_store::{TokenInfo, TokenRole};

use crate::AppState;
use crate::error::ApiError;

/// Rejects a request without a valid token (401) and a write with a read token (403), and
/// puts the caller's [`TokenInfo`] into the request extensions. The token is never logged.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .filter(|token| !token.is_empty());
    let caller = match presented {
        None => None,
        Some(token) => match state.store.authenticate(token).await {
            Ok(found) => found,
            Err(error) => return ApiError::internal(error).into_response(),
        },
    };
    let Some(caller) = caller else {
        state.metrics.failed_auth.fetch_add(1, Ordering::Relaxed);
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token; create one with `dnsbl token create`",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("valid header"),
        );
        return response;
    };
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if writes && caller.role == TokenRole::Read {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("token {:?} has the read role and cannot write", caller.name),
        )
        .into_response();
    }
    request.extensions_mut().insert::<TokenInfo>(caller);
    next.run(request).await
}

/// Returns the token of an `Authorization: Bearer TOKEN` value. The scheme name is
/// case-insensitive (RFC 9110 section 11.1), so `bearer` and `BEARER` work too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_any_case() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearerabc", None),
            ("abc", None),
        ];
        for (value, expected) in cases {
            assert_eq!(bearer_token(value), expected, "{value:?}");
        }
    }
}
