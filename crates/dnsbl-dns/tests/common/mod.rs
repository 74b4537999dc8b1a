//! Fixtures shared by the integration tests of this crate.

use dnsbl_core::{SoaSpec, ZoneKind, ZoneSpec};

/// Returns the address zone `bl.example` with TTL `ttl`, serving every category.
pub fn bl_example(ttl: u32) -> ZoneSpec {
    ZoneSpec {
        name: "bl.example".into(),
        kind: ZoneKind::Address,
        ttl,
        soa: SoaSpec {
            mname: "ns1.bl.example".into(),
            rname: "hostmaster.bl.example".into(),
            refresh: 7200,
            retry: 900,
            expire: 1209600,
            minimum: 300,
            ttl: 3600,
        },
        ns: vec!["ns1.bl.example".into()],
        ns_ttl: 86400,
        categories: None,
        style: Default::default(),
        lookup_url: None,
        includes: Vec::new(),
        acl: Default::default(),
    }
}
