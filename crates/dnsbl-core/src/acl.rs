//! Per-zone client access lists: an ordered list of prefixes, each with an action, of
//! which the first prefix that contains the client's address decides. A client that no
//! rule matches is answered.

use std::net::IpAddr;

use ipnet::IpNet;

/// The action taken on a query from a client that a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclAction {
    /// Answer normally.
    Allow,
    /// Answer with rcode REFUSED and no records (RFC 1035 §4.1.1).
    Refuse,
    /// Send no response.
    Drop,
}

/// One rule of an access list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclRule {
    pub prefix: IpNet,
    pub action: AclAction,
}

/// The access list of a zone, in the order written; empty allows every client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientAcl {
    pub rules: Vec<AclRule>,
}

impl ClientAcl {
    /// Returns the action of the first rule whose prefix contains `client`, or
    /// [`AclAction::Allow`] when none does. An IPv4-mapped IPv6 client (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 clients) is matched as the IPv4 address.
    pub fn action(&self, client: IpAddr) -> AclAction {
        let client = canonical(client);
        self.rules
            .iter()
            .find(|rule| rule.prefix.contains(&client))
            .map_or(AclAction::Allow, |rule| rule.action)
    }
}

/// Returns the IPv4 address of an IPv4-mapped IPv6 address, and any other address as it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, action: AclAction) -> AclRule {
        AclRule {
            prefix: prefix.parse().unwrap(),
            action,
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let acl = ClientAcl {
            rules: vec![
                rule("192.0.2.128/25", AclAction::Allow),
                rule("192.0.2.0/24", AclAction::Refuse),
                rule("198.51.100.0/24", AclAction::Drop),
                rule("2001:db8::/32", AclAction::Refuse),
                rule("0.0.0.0/0", AclAction::Allow),
            ],
        };
        let cases = [
            ("192.0.2.200", AclAction::Allow),
            ("192.0.2.7", AclAction::Refuse),
            ("198.51.100.1", AclAction::Drop),
            ("::ffff:198.51.100.1", AclAction::Drop),
            ("2001:db8::1", AclAction::Refuse),
            ("2001:db9::1", AclAction::Allow),
            ("203.0.113.9", AclAction::Allow),
        ];
        for (client, expected) in cases {
            assert_eq!(acl.action(client.parse().unwrap()), expected, "{client}");
        }
    }

    #[test]
    fn empty_list_allows_everyone() {
        let acl = ClientAcl::default();
        assert_eq!(acl.action("192.0.2.1".parse().unwrap()), AclAction::Allow);
        assert_eq!(acl.action("::1".parse().unwrap()), AclAction::Allow);
    }
}
