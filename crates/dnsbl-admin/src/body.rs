//! Request bodies: the JSON extractor with API errors, and the checks of provider fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use dnsbl_core::{AddrRange, RangeLimit};
use dnsbl_store::NewProvider;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::http_server::{BODY_READ_TIMEOUT, BodyReadTimeout};

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Returns the message of a 413 response, with the limit.
pub fn too_large_message() -> String {
    format!(
        "request body too large: the limit is {} MiB ({MAX_BODY_BYTES} bytes); send less \
         data in one request",
        MAX_BODY_BYTES / (1024 * 1024)
    )
}

/// A JSON object body: 400 for malformed JSON, 422 for JSON of the wrong shape (including
/// an array, which serde would otherwise read as the struct's fields in order), 413 when
/// larger than [`MAX_BODY_BYTES`], 408 when not complete within the body read timeout of
/// [`crate::http_server`]. A 422 names the field path, such as `netblocks[2]`, and
/// the rejected value when it is a string, number, boolean or null.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let timeout = request
            .extensions()
            .get::<BodyReadTimeout>()
            .map_or(BODY_READ_TIMEOUT, |timeout| timeout.0);
        let bytes = tokio::time::timeout(timeout, Bytes::from_request(request, state))
            .await
            .map_err(|_| {
                // Debug level, because a client can cause this at any rate.
                tracing::debug!(?timeout, "admin request body timed out");
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "timed out reading the request body: it must arrive within {} s of \
                         the headers; send the whole body at once",
                        timeout.as_secs_f64()
                    ),
                )
            })?
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(status, "body_too_large", too_large_message())
                } else {
                    ApiError::new(status, "invalid_body", rejection.body_text())
                }
            })?;
        let starts_object = bytes
            .iter()
            .find(|byte| !byte.is_ascii_whitespace())
            .is_some_and(|&byte| byte == b'{');
        if !starts_object {
            return Err(match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    "expected a JSON object",
                ),
                Err(error) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", error.to_string())
                }
            });
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| data_error(&bytes, error))?;
        // Trailing characters after the object are a syntax error, as in serde_json::from_slice.
        deserializer.end().map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", error.to_string())
        })?;
        Ok(JsonBody(value))
    }
}

/// Turns an error of reading the body into a 400 for malformed JSON, or into a 422 for
/// JSON of the wrong shape that names the field path and, for a scalar, its value.
fn data_error(bytes: &[u8], error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().clone();
    let inner = error.into_inner();
    if !inner.is_data() {
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", inner.to_string());
    }

    let mut field = if path.iter().len() == 0 {
        String::new()
    } else {
        path.to_string()
    };
    // serde reports a missing field at the object that should contain it, so the field's
    // own name is taken from the message. An unknown field's path already ends with it.
    let text = inner.to_string();
    let missing_field = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = missing_field {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(name);
    }

    let message = if field.is_empty() {
        text
    } else {
        format!("{field}: {text}")
    };
    let mut api = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message);
    if !field.is_empty() {
        api.body.value = scalar_at(bytes, &path);
        api.body.field = Some(field);
    }
    api
}

/// Returns the JSON value at `path` in `bytes` when it is a string (unquoted), a number, a
/// boolean or null, the values that serde's type errors show.
fn scalar_at(bytes: &[u8], path: &serde_path_to_error::Path) -> Option<String> {
    let mut value = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    for segment in path {
        value = match segment {
            serde_path_to_error::Segment::Seq { index } => value.get_mut(*index)?.take(),
            serde_path_to_error::Segment::Map { key } => value.get_mut(key)?.take(),
            _ => return None,
        };
    }
    match value {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => None,
        scalar => Some(scalar.to_string()),
    }
}

/// The body of `POST /v1/providers` and `PUT /v1/providers/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// Required on create; on update it must match the path if given.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    pub name: Option<String>,
    pub category: String,
    pub operator: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    /// Numbers or strings like `"AS64500"`.
    #[serde(default)]
    pub asns: Vec<serde_json::Value>,
    #[serde(default)]
    pub netblocks: Vec<String>,
    pub note: Option<String>,
}

impl ProviderBody {
    /// Checks every field and returns the provider named `name`. The name itself is
    /// checked only on create, because a PUT names a provider that exists, and names from
    /// zones/register.toml may contain characters that the API does not accept. Netblocks
    /// must pass `limit`, the range limit that `dnsbl serve` applies to register.toml.
    pub fn validate(self, name: &str, limit: &RangeLimit) -> Result<NewProvider, ApiError> {
        let mut provider = NewProvider {
            name: name.to_owned(),
            category: self.category,
            operator: self.operator,
            note: self.note,
            ..NewProvider::default()
        };
        for (index, domain) in self.domains.iter().enumerate() {
            provider
                .domains
                .push(parse_listed_domain(domain).map_err(|message| {
                    ApiError::invalid(
                        "invalid_domain",
                        format!("domains[{index}]"),
                        domain,
                        message,
                    )
                })?);
        }
        for (index, asn) in self.asns.iter().enumerate() {
            provider.asns.push(parse_asn(asn).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_asn",
                    format!("asns[{index}]"),
                    asn.to_string(),
                    "expected an AS number from 0 to 4294967295, as a number or as \"AS64500\"",
                )
            })?);
        }
        for (index, netblock) in self.netblocks.iter().enumerate() {
            let range = netblock.parse::<AddrRange>().map_err(|error| {
                ApiError::invalid(
                    "invalid_netblock",
                    format!("netblocks[{index}]"),
                    netblock,
                    error.to_string(),
                )
            })?;
            if !limit.allows(&range) {
                return Err(ApiError::invalid(
                    "invalid_netblock",
                    format!("netblocks[{index}]"),
                    netblock,
                    limit.message(&range),
                ));
            }
            provider.netblocks.push(range);
        }
        Ok(provider)
    }
}

/// Rejects a body whose `name` differs from the name in the path of a PUT, because the
/// path names the record that is replaced.
pub fn check_body_name(
    kind: &str,
    path_name: &str,
    body_name: Option<&String>,
) -> Result<(), ApiError> {
    match body_name {
        Some(body_name) if body_name != path_name => Err(ApiError::invalid(
            "name_mismatch",
            "name",
            body_name,
            format!("the body names another {kind} than the path ({path_name:?})"),
        )),
        _ => Ok(()),
    }
}

/// Checks the name of a provider, operator or category created through the API: 1 to 100
/// ASCII letters, digits, `.`, `-` and `_`, so it fits in a URL path segment without
/// escaping. Names in zones/register.toml may contain other characters, such as spaces,
/// and are edited in that file.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if dnsbl_store::is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_name",
            "name",
            name,
            format!(
                "invalid name {name:?}: expected 1 to 100 ASCII letters, digits, '.', '-' or \
                 '_' (names from zones/register.toml may differ and are edited in that file)"
            ),
        ))
    }
}

/// Parses the id in a path such as `/v1/allow/{id}`: plain decimal digits without a sign
/// or a leading zero, so that one id has one spelling. Anything else is a 422
/// `invalid_id` whose message is `expected`.
pub fn parse_path_id(id: &str, expected: &str) -> Result<i64, ApiError> {
    let canonical = id.bytes().all(|byte| byte.is_ascii_digit())
        && !id.is_empty()
        && (id == "0" || !id.starts_with('0'));
    match id.parse::<i64>() {
        Ok(number) if canonical => Ok(number),
        _ => Err(ApiError::invalid("invalid_id", "id", id, expected)),
    }
}

fn parse_asn(value: &serde_json::Value) -> Option<u32> {
    match value {
        serde_json::Value::Number(number) => u32::try_from(number.as_u64()?).ok(),
        serde_json::Value::String(text) => dnsbl_core::model::parse_asn(text),
        _ => None,
    }
}

/// Lower-cases a domain, drops a trailing dot, and checks RFC 1035 §2.3.4 lengths and
/// LDH labels (underscores allowed).
pub fn parse_domain(text: &str) -> Result<String, String> {
    let domain = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    if domain.is_empty() || domain.len() > 253 {
        return Err("expected a domain name of 1 to 253 characters".into());
    }
    for label in domain.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "label {label:?} is not 1 to 63 letters, digits, '-' or '_'"
            ));
        }
    }
    Ok(domain)
}

/// Parses a domain to list, as [`parse_domain`] does, and rejects a top-level domain.
fn parse_listed_domain(text: &str) -> Result<String, String> {
    let domain = parse_domain(text)?;
    dnsbl_core::width::check_listed_domain(&domain)?;
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_formats() {
        let cases = [
            (serde_json::json!(64500), Some(64500)),
            (serde_json::json!("AS64500"), Some(64500)),
            (serde_json::json!("as1"), Some(1)),
            (serde_json::json!("As36351"), Some(36351)),
            (serde_json::json!("aS36351"), Some(36351)),
            (serde_json::json!("+5"), None),
            (serde_json::json!("4294967295"), Some(u32::MAX)),
            (serde_json::json!(4294967296u64), None),
            (serde_json::json!(-1), None),
            (serde_json::json!("AS"), None),
            (serde_json::json!("ASX1"), None),
            (serde_json::json!(1.5), None),
            (serde_json::json!(null), None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_asn(&input), expected, "input {input}");
        }
    }

    #[test]
    fn domain_checks() {
        assert_eq!(parse_domain("Spam.Example.").unwrap(), "spam.example");
        assert!(parse_domain("").is_err());
        assert!(parse_domain("a..b").is_err());
        assert_eq!(
            parse_domain("example.com.."),
            Err("label \"\" is not 1 to 63 letters, digits, '-' or '_'".to_string())
        );
        assert!(parse_domain("-a.example").is_err());
        assert!(parse_domain(&"a".repeat(64)).is_err());
        assert_eq!(parse_listed_domain("Spam.Example").unwrap(), "spam.example");
        assert!(parse_listed_domain("com.").is_err());
    }

    /// Returns a provider body of category `bad` with the given netblocks.
    fn with_netblocks(netblocks: &[&str]) -> ProviderBody {
        ProviderBody {
            name: None,
            category: "bad".into(),
            operator: None,
            domains: Vec::new(),
            asns: Vec::new(),
            netblocks: netblocks
                .iter()
                .map(|netblock| netblock.to_string())
                .collect(),
            note: None,
        }
    }

    #[test]
    fn wide_netblock_rejected() {
        let body = |netblock: &str| with_netblocks(&["192.0.2.0/24", netblock]);
        let error = body("0.0.0.0/0")
            .validate("p", &RangeLimit::DEFAULT)
            .unwrap_err();
        assert_eq!(error.body.field.as_deref(), Some("netblocks[1]"));
        assert_eq!(error.body.value.as_deref(), Some("0.0.0.0/0"));
        assert_eq!(
            error.body.message,
            "range is wider than the maximum IPv4 size /6; pass --allow-wide-ranges or a \
             smaller --max-prefix-v4 if it is real"
        );
        assert!(body("::/0").validate("p", &RangeLimit::DEFAULT).is_err());
        assert!(
            body("4.0.0.0/6")
                .validate("p", &RangeLimit::DEFAULT)
                .is_ok()
        );
        assert!(
            body("2002::/16")
                .validate("p", &RangeLimit::DEFAULT)
                .is_ok()
        );
        assert!(
            body("::ffff:10.0.0.0/104")
                .validate("p", &RangeLimit::DEFAULT)
                .is_ok()
        );
    }

    #[test]
    fn netblock_with_wide_mapped_part_rejected() {
        let body = |netblock: &str| with_netblocks(&[netblock]);
        for (netblock, mapped) in [("::/16", "0.0.0.0/0"), ("::ffff:0:0/96", "0.0.0.0/0")] {
            let error = body(netblock)
                .validate("p", &RangeLimit::DEFAULT)
                .unwrap_err();
            assert_eq!(
                error.body.field.as_deref(),
                Some("netblocks[0]"),
                "{netblock}"
            );
            assert_eq!(error.body.value.as_deref(), Some(netblock));
            assert_eq!(
                error.body.message,
                format!(
                    "its ::ffff:0:0/96 part covers the IPv4 range {mapped}, wider than the \
                     maximum IPv4 size /6; pass --allow-wide-ranges or a smaller \
                     --max-prefix-v4 if it is real"
                )
            );
        }
    }

    #[test]
    fn netblock_width_follows_serve_limit() {
        let body = |netblock: &str| with_netblocks(&[netblock]);
        let narrow = RangeLimit {
            max_v4_prefix: 16,
            max_v6_prefix: 32,
        };
        let error = body("10.0.0.0/15").validate("p", &narrow).unwrap_err();
        assert_eq!(error.body.value.as_deref(), Some("10.0.0.0/15"));
        assert_eq!(
            error.body.message,
            "range is wider than the maximum IPv4 size /16; pass --allow-wide-ranges or a \
             smaller --max-prefix-v4 if it is real"
        );
        let error = body("2001:db8::/31").validate("p", &narrow).unwrap_err();
        assert_eq!(
            error.body.message,
            "range is wider than the maximum IPv6 size /32; pass --allow-wide-ranges or a \
             smaller --max-prefix-v6 if it is real"
        );
        assert!(body("10.0.0.0/16").validate("p", &narrow).is_ok());
        assert!(body("2001:db8::/32").validate("p", &narrow).is_ok());
        for netblock in ["0.0.0.0/0", "::/0", "::ffff:0:0/96"] {
            let provider = body(netblock).validate("p", &RangeLimit::NONE);
            assert!(provider.is_ok(), "{netblock} with --allow-wide-ranges");
        }
    }

    /// Reads `text` as the body of a request into a [`ProviderBody`].
    async fn read_provider_body(text: &'static str) -> Result<ProviderBody, ApiError> {
        let request = Request::builder()
            .body(axum::body::Body::from(text))
            .unwrap();
        JsonBody::<ProviderBody>::from_request(request, &())
            .await
            .map(|JsonBody(body)| body)
    }

    #[tokio::test]
    async fn body_errors_name_field() {
        // (body, field, value, message)
        let cases = [
            (
                r#"{"category": 5}"#,
                Some("category"),
                Some("5"),
                "category: invalid type: integer `5`, expected a string at line 1 column 14",
            ),
            (
                r#"{"category":"c","netblocks":["192.0.2.0/24","198.51.100.0/24",7]}"#,
                Some("netblocks[2]"),
                Some("7"),
                "netblocks[2]: invalid type: integer `7`, expected a string at line 1 column 63",
            ),
            (
                r#"{"category":"c","netblocks":"192.0.2.0/24"}"#,
                Some("netblocks"),
                Some("192.0.2.0/24"),
                "netblocks: invalid type: string \"192.0.2.0/24\", expected a sequence at line 1 \
                 column 42",
            ),
            (
                r#"{"category":"c","domains":[null]}"#,
                Some("domains[0]"),
                Some("null"),
                "domains[0]: invalid type: null, expected a string at line 1 column 31",
            ),
            (
                r#"{"category":"c","netblocks":{"a":1}}"#,
                Some("netblocks"),
                None,
                "netblocks: invalid type: map, expected a sequence at line 1 column 28",
            ),
            (
                r#"{"name":"a"}"#,
                Some("category"),
                None,
                "category: missing field `category` at line 1 column 12",
            ),
            (
                r#"{"category":"c","colour":"red"}"#,
                Some("colour"),
                Some("red"),
                "colour: unknown field `colour`, expected one of `name`, `category`, \
                 `operator`, `domains`, `asns`, `netblocks`, `note` at line 1 column 24",
            ),
            ("[1]", None, None, "expected a JSON object"),
        ];
        for (body, field, value, message) in cases {
            let error = read_provider_body(body).await.unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "body {body}"
            );
            assert_eq!(error.body.code, "invalid_field", "body {body}");
            assert_eq!(error.body.field.as_deref(), field, "body {body}");
            assert_eq!(error.body.value.as_deref(), value, "body {body}");
            assert_eq!(error.body.message, message, "body {body}");
        }
    }

    #[tokio::test]
    async fn body_syntax_errors_stay_400() {
        let cases = [
            ("{not json", "key must be a string at line 1 column 2"),
            (
                r#"{"category":"c"} x"#,
                "trailing characters at line 1 column 18",
            ),
            (
                r#"{"category":"#,
                "EOF while parsing a value at line 1 column 12",
            ),
        ];
        for (body, message) in cases {
            let error = read_provider_body(body).await.unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "body {body}");
            assert_eq!(error.body.code, "invalid_json", "body {body}");
            assert_eq!(error.body.field, None, "body {body}");
            assert_eq!(error.body.message, message, "body {body}");
        }
        let body = read_provider_body(r#"{"category":"c","netblocks":["192.0.2.0/24"]} "#)
            .await
            .unwrap();
        assert_eq!(body.netblocks, ["192.0.2.0/24"]);
    }

    #[test]
    fn path_id_formats() {
        let cases = [
            ("10", Some(10)),
            ("0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("+10", None),
            ("-10", None),
            ("010", None),
            ("00", None),
            (" 10", None),
            ("1_0", None),
            ("", None),
            ("x", None),
            ("9223372036854775808", None),
        ];
        for (id, expected) in cases {
            let parsed = parse_path_id(id, "expected an id");
            assert_eq!(parsed.as_ref().ok(), expected.as_ref(), "id {id:?}");
            if let Err(error) = parsed {
                assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "id {id:?}");
                assert_eq!(error.body.code, "invalid_id", "id {id:?}");
                assert_eq!(error.body.field.as_deref(), Some("id"), "id {id:?}");
                assert_eq!(error.body.value.as_deref(), Some(id), "id {id:?}");
                assert_eq!(error.body.message, "expected an id", "id {id:?}");
            }
        }
    }

    #[test]
    fn name_checks() {
        assert!(check_name("bulk-mail_1.example").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn invalid_name_error_body() {
        for name in ["bad name", "", "a/b", "tab\there"] {
            let error = check_name(name).unwrap_err();
            assert_eq!(error.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error.body.code, "invalid_name", "name {name:?}");
            assert_eq!(error.body.field.as_deref(), Some("name"), "name {name:?}");
            assert_eq!(error.body.value.as_deref(), Some(name), "name {name:?}");
            let message = &error.body.message;
            assert!(
                message.starts_with(&format!("invalid name {name:?}: ")),
                "{message}"
            );
            assert!(
                message.contains("1 to 100 ASCII letters, digits, '.', '-' or '_'"),
                "{message}"
            );
        }
    }
}
