//! `/v1/allow`: create, list and delete allow-list entries, which exempt an address
//! range or a domain (with its subdomains) from every listing of one zone or of all.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use dnsbl_config::{AllowEntry, AllowTarget};
use dnsbl_core::{AddrRange, ZoneKind};
use dnsbl_store::{AllowRecord, Page, StoreError, TokenInfo};
use serde::Deserialize;

use crate::AppState;
use crate::body::{JsonBody, parse_domain};
use crate::error::{ApiError, ErrorResponse};
use crate::providers::{audit, page_bounds};
use crate::reads::PageQuery;

/// The body of `POST /v1/allow`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowBody {
    /// A CIDR prefix, an inclusive range `a-b`, a single address or a domain.
    pub target: String,
    #[schema(min_length = 1, pattern = "\\S")]
    pub reason: String,
    /// Apex of the zone the entry applies to; absent applies to every zone.
    pub zone: Option<String>,
}

/// A zone being served, as an allow-list entry is checked against it.
struct ServedZone {
    /// Apex in lowercase.
    name: String,
    kind: ZoneKind,
    /// The zones a combined zone serves; empty for any other.
    includes: Vec<String>,
}

impl AllowBody {
    /// Checks every field against the zones being served and returns the entry.
    fn validate(self, zones: &[ServedZone]) -> Result<AllowEntry, ApiError> {
        let looks_like_address = self.target.contains(':')
            || self.target.contains('/')
            || self
                .target
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte == b'.' || byte == b'-');
        let target = if looks_like_address {
            let range = self.target.parse::<AddrRange>().map_err(|error| {
                ApiError::invalid("invalid_target", "target", &self.target, error.to_string())
            })?;
            AllowTarget::Range(range)
        } else {
            let domain = parse_domain(&self.target).map_err(|message| {
                ApiError::invalid("invalid_target", "target", &self.target, message)
            })?;
            AllowTarget::Domain(domain)
        };
        if self.reason.trim().is_empty() {
            return Err(ApiError::invalid(
                "invalid_reason",
                "reason",
                self.reason,
                "an allow-list entry needs a reason",
            ));
        }
        let zone = match self.zone {
            None => None,
            Some(zone) => {
                let apex = zone.trim_end_matches('.').to_ascii_lowercase();
                let Some(served) = zones.iter().find(|served| served.name == apex) else {
                    let names: Vec<&str> =
                        zones.iter().map(|served| served.name.as_str()).collect();
                    return Err(ApiError::invalid(
                        "unknown_zone",
                        "zone",
                        zone,
                        format!("expected one of the served zones: {}", names.join(", ")),
                    ));
                };
                target
                    .check_zone(&self.target, &apex, served.kind, &served.includes)
                    .map_err(|message| {
                        ApiError::invalid("zone_kind_mismatch", "zone", &zone, message)
                    })?;
                Some(apex)
            }
        };
        Ok(AllowEntry {
            target,
            reason: self.reason,
            zone,
        })
    }
}

/// Lists allow-list entries from register.toml and from the API, by id.
#[utoipa::path(
    get,
    path = "/v1/allow",
    tag = "allow",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "One page of allow-list entries", body = Page<AllowRecord>),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<AllowRecord>>, ApiError> {
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    Ok(Json(state.store.list_allow_entries(limit, offset).await?))
}

/// Creates an allow-list entry; DNS stops listing what it covers.
#[utoipa::path(
    post,
    path = "/v1/allow",
    tag = "allow",
    request_body = AllowBody,
    responses(
        (status = 201, description = "The entry was created", body = AllowRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 409, description = "An entry with that target and zone exists", body = ErrorResponse),
        (status = 422, description = "An invalid field, named in the error", body = ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    JsonBody(body): JsonBody<AllowBody>,
) -> Result<(StatusCode, Json<AllowRecord>), ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let zones: Vec<ServedZone> = state
        .snapshot
        .load()
        .zones
        .iter()
        .map(|zone| ServedZone {
            name: zone.spec.name.to_ascii_lowercase(),
            kind: zone.spec.kind,
            includes: zone.spec.includes.clone(),
        })
        .collect();
    let entry = body.validate(&zones)?;
    let record = state
        .store
        .create_allow_entry(&audit(&caller, &method, &uri), &entry)
        .await?;
    state.listings_changed().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Deletes an allow-list entry added through the API; DNS lists what it covered again.
#[utoipa::path(
    delete,
    path = "/v1/allow/{id}",
    tag = "allow",
    params(("id" = i64, Path, description = "Entry id")),
    responses(
        (status = 200, description = "The deleted entry", body = AllowRecord),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
        (status = 403, description = "The token has the read role", body = ErrorResponse),
        (status = 404, description = "No entry with that id", body = ErrorResponse),
        (status = 409, description = "The entry comes from register.toml", body = ErrorResponse),
        (status = 422, description = "The id is not plain decimal digits", body = ErrorResponse),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<TokenInfo>,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Json<AllowRecord>, ApiError> {
    crate::ingest::reject_write_while_ingesting(&state)?;
    let id = crate::body::parse_path_id(&id, "expected an entry id from GET /v1/allow")?;
    let record = state
        .store
        .delete_allow_entry(&audit(&caller, &method, &uri), id)
        .await
        .map_err(|error| {
            // The store names the entry by its target, but the request names it by id.
            let read_only = matches!(error, StoreError::ReadOnly { .. });
            let mut api = ApiError::from(error);
            if read_only {
                api.body.field = Some("id".into());
                api.body.value = Some(id.to_string());
            }
            api
        })?;
    state.listings_changed().await?;
    Ok(Json(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served_zones() -> Vec<ServedZone> {
        let zone = |name: &str, kind, includes: &[&str]| ServedZone {
            name: name.to_owned(),
            kind,
            includes: includes.iter().map(|name| (*name).to_owned()).collect(),
        };
        vec![
            zone("bl.example", ZoneKind::Address, &[]),
            zone("dbl.example", ZoneKind::Domain, &[]),
            zone(
                "all.example",
                ZoneKind::Address,
                &["bl.example", "more.example"],
            ),
        ]
    }

    fn body(target: &str, zone: Option<&str>) -> AllowBody {
        AllowBody {
            target: target.to_owned(),
            reason: "customer relay".to_owned(),
            zone: zone.map(str::to_owned),
        }
    }

    #[test]
    fn zone_of_other_kind_rejected() {
        let cases = [
            (
                "mail.example.org",
                "BL.example.",
                "\"mail.example.org\" is a domain, but zone \"bl.example\" is an address zone, \
                 where the entry has no effect; name a domain zone or leave out zone to apply \
                 the entry to every zone",
            ),
            (
                "198.51.100.7",
                "dbl.example",
                "\"198.51.100.7\" is an address, but zone \"dbl.example\" is a domain zone, \
                 where the entry has no effect; name an address zone or leave out zone to apply \
                 the entry to every zone",
            ),
            (
                "192.0.2.0/24",
                "all.example",
                "zone \"all.example\" is a combined zone, which serves the listings of \
                 bl.example, more.example; name one of those zones or leave out zone to apply \
                 the entry to every zone",
            ),
            (
                "2001:db8::/64",
                "dbl.example",
                "\"2001:db8::/64\" is an address, but zone \"dbl.example\" is a domain zone, \
                 where the entry has no effect; name an address zone or leave out zone to apply \
                 the entry to every zone",
            ),
        ];
        for (target, zone, message) in cases {
            let error = body(target, Some(zone))
                .validate(&served_zones())
                .unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "target {target}"
            );
            assert_eq!(error.body.code, "zone_kind_mismatch", "target {target}");
            assert_eq!(error.body.field.as_deref(), Some("zone"), "target {target}");
            assert_eq!(error.body.value.as_deref(), Some(zone), "target {target}");
            assert_eq!(error.body.message, message, "target {target}");
        }
    }

    #[test]
    fn zone_of_same_kind_accepted() {
        let cases = [
            ("mail.example.org", Some("dbl.example")),
            ("mail.example.org", None),
            ("198.51.100.7", Some("bl.example")),
            ("198.51.100.0-198.51.100.9", None),
        ];
        for (target, zone) in cases {
            let entry = body(target, zone).validate(&served_zones()).unwrap();
            assert_eq!(entry.zone.as_deref(), zone, "target {target}");
        }
    }
}
