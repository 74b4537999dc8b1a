//! The names of an address zone as records and wildcards (RFC 4592) at octet (IPv4) and
//! nibble (IPv6) boundaries.
//!
//! The zone is a tree of labels below the apex. IPv4 names have 4 decimal labels and IPv6
//! names 32 hexadecimal nibbles. The labels `0` to `9` belong to both trees, so a node whose
//! labels are all single digits is an IPv4 prefix and an IPv6 prefix at once. The
//! construction visits a node and looks at each child label:
//!
//! - **empty**: nothing below the child is listed, in either family;
//! - **uniform**: every address below the child (and the child itself when it is a full
//!   address) is listed with one listing set;
//! - **mixed**: anything else.
//!
//! The node gets a wildcard `*.node` with the listing set shared by most uniform
//! children, and those children are written no further. Uniform children with another
//! set are written explicitly: `child` when it is a full address, `*.child` otherwise.
//! Mixed children are visited in turn. An empty child under the wildcard would match it,
//! so it is written as a blocker: an existing node with one HINFO record and nothing
//! below, which makes every name below it NXDOMAIN. A full address cannot be a blocker,
//! because the address itself must get NXDOMAIN, so a node with an empty full-address
//! child gets no wildcard, and its uniform children are all written explicitly. The
//! wildcard is also left out where it would not save records (one uniform child among
//! many empty ones).
//!
//! This is correct under RFC 4592 because a wildcard answers only for names whose closest
//! encloser is its parent: every child that is written or visited exists (at least as an
//! empty non-terminal), so names below it are decided by the records below it, never by a
//! wildcard further up. An excluded address lies in an empty child at some level, no
//! wildcard sits at that level, so the secondary answers NXDOMAIN for it. A range with a
//! more specific entry inside gets a wildcard at every level on the path to that entry
//! (`*.127`, `*.0.127`, `*.0.0.127` for 127.0.0.0/8 with 127.0.0.2 listed differently).
//!
//! IPv4-mapped IPv6 names (::ffff:0:0/96) are answered from the IPv4 listings by the live
//! server, so the IPv4 listings are written a second time in nibble form below them.

use std::collections::HashMap;

use dnsbl_core::ListingId;
use dnsbl_core::snapshot::Zone;

/// A child label: 0 to 255 are decimal labels, `HEX_BASE + 10` to `HEX_BASE + 15` are the
/// nibble labels `a` to `f`.
pub type Label = u16;

/// Offset of the nibble labels `a` to `f` in [`Label`].
pub const HEX_BASE: Label = 256;

/// Start of ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2).
const MAPPED_START: u128 = 0xffff << 32;

/// One record owner of an address zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressEntry {
    /// Labels from the apex downwards (the first octet or nibble first).
    pub path: Vec<Label>,
    /// Whether the owner is `*.path` rather than `path`.
    pub wildcard: bool,
    /// Index into [`AddressTree::groups`].
    pub group: u32,
    /// Whether the IPv4 and the IPv6 reading of `path` cover listed addresses.
    pub v4: bool,
    pub v6: bool,
    /// An empty node under a wildcard: it exists only so that the names below it get
    /// NXDOMAIN, and carries no listing (`group` is unused).
    pub blocker: bool,
}

/// The record owners of an address zone, in address order.
#[derive(Clone, Debug, Default)]
pub struct AddressTree {
    /// Distinct listing sets, sorted listing ids each.
    pub groups: Vec<Box<[ListingId]>>,
    pub entries: Vec<AddressEntry>,
}

/// Disjoint, sorted `(start, end, group)` segments of one family.
type Segments = Vec<(u128, u128, u32)>;

/// What a child holds in one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Empty,
    Uniform(u32),
    Mixed,
}

/// Address-family geometry: bits per label and labels per full address.
#[derive(Clone, Copy)]
struct Family {
    label_bits: u32,
    depth: usize,
}

const V4: Family = Family {
    label_bits: 8,
    depth: 4,
};
const V6: Family = Family {
    label_bits: 4,
    depth: 32,
};

impl Family {
    fn total_bits(self) -> u32 {
        self.label_bits * self.depth as u32
    }

    /// First address below a path of `len` labels with value `prefix`, and the size of
    /// one child range.
    fn child_span(self, len: usize) -> u128 {
        1u128 << (self.total_bits() - self.label_bits * (len as u32 + 1))
    }
}

/// Builds the record owners of an address zone.
pub fn address_tree(zone: &Zone) -> AddressTree {
    let mut pool: HashMap<Box<[ListingId]>, u32> = HashMap::new();
    let mut groups = Vec::new();
    let mut intern = |ids: &[ListingId]| -> u32 {
        if let Some(&group) = pool.get(ids) {
            return group;
        }
        let group = groups.len() as u32;
        groups.push(Box::<[ListingId]>::from(ids));
        pool.insert(ids.into(), group);
        group
    };
    let v4: Segments = zone
        .v4
        .segments()
        .map(|(start, end, ids)| (u128::from(start), u128::from(end), intern(ids)))
        .collect();
    let mut v6: Segments = zone
        .v6
        .segments()
        .map(|(start, end, ids)| (start, end, intern(ids)))
        .collect();
    v6.extend(
        v4.iter()
            .map(|&(start, end, group)| (start + MAPPED_START, end + MAPPED_START, group)),
    );
    v6.sort_unstable_by_key(|segment| segment.0);
    let v6 = merge_adjacent(v6);

    let mut builder = Builder {
        v4,
        v6,
        entries: Vec::new(),
    };
    builder.visit(&mut Vec::new());
    AddressTree {
        groups,
        entries: builder.entries,
    }
}

/// Joins segments that touch and carry the same group.
fn merge_adjacent(segments: Segments) -> Segments {
    let mut merged: Segments = Vec::with_capacity(segments.len());
    for segment in segments {
        match merged.last_mut() {
            Some(last) if last.2 == segment.2 && last.1.checked_add(1) == Some(segment.0) => {
                last.1 = segment.1;
            }
            _ => merged.push(segment),
        }
    }
    merged
}

struct Builder {
    v4: Segments,
    v6: Segments,
    entries: Vec<AddressEntry>,
}

/// A child's states: the full-address state (when the child is a full address) and the
/// state of what lies below it, per family.
#[derive(Clone, Copy, Debug, Default)]
struct Child {
    leaf: Option<State>,
    below: Option<State>,
    v4: bool,
    v6: bool,
}

impl Child {
    fn add(&mut self, state: State, is_leaf: bool, v4: bool) {
        if state != State::Empty {
            if v4 {
                self.v4 = true;
            } else {
                self.v6 = true;
            }
        }
        let slot = if is_leaf {
            &mut self.leaf
        } else {
            &mut self.below
        };
        *slot = Some(match *slot {
            None => state,
            Some(existing) if existing == state => state,
            Some(_) => State::Mixed,
        });
    }

    /// Empty, uniform with one group, or mixed, over all its parts.
    fn combined(&self) -> State {
        let parts = [self.leaf, self.below];
        let mut result: Option<State> = None;
        for state in parts.into_iter().flatten() {
            result = Some(match result {
                None => state,
                Some(existing) if existing == state => state,
                Some(_) => State::Mixed,
            });
        }
        result.unwrap_or(State::Empty)
    }
}

impl Builder {
    /// Writes the records below the node at `path`.
    fn visit(&mut self, path: &mut Vec<Label>) {
        let mut children: Vec<(Label, Child)> = Vec::new();
        if let Some(prefix) = prefix_value(path, V4) {
            let states = child_states(&self.v4, prefix, path.len(), V4);
            let is_leaf = path.len() + 1 == V4.depth;
            for (index, state) in states.into_iter().enumerate() {
                let mut child = Child::default();
                child.add(state, is_leaf, true);
                children.push((index as Label, child));
            }
        }
        if let Some(prefix) = prefix_value(path, V6) {
            let states = child_states(&self.v6, prefix, path.len(), V6);
            let is_leaf = path.len() + 1 == V6.depth;
            for (nibble, state) in states.into_iter().enumerate() {
                let label = if nibble < 10 {
                    nibble as Label
                } else {
                    HEX_BASE + nibble as Label
                };
                match children.iter_mut().find(|(existing, _)| *existing == label) {
                    Some((_, child)) => child.add(state, is_leaf, false),
                    None => {
                        let mut child = Child::default();
                        child.add(state, is_leaf, false);
                        children.push((label, child));
                    }
                }
            }
        }
        children.sort_by_key(|(label, _)| *label);

        let default = choose_wildcard(&children);
        if let Some((group, v4, v6)) = default {
            self.entries.push(AddressEntry {
                path: path.clone(),
                wildcard: true,
                group,
                v4,
                v6,
                blocker: false,
            });
        }
        let default_group = default.map(|(group, _, _)| group);
        for (label, child) in children {
            path.push(label);
            match child.combined() {
                State::Empty if default.is_some() => self.entries.push(AddressEntry {
                    path: path.clone(),
                    wildcard: false,
                    group: 0,
                    v4: false,
                    v6: false,
                    blocker: true,
                }),
                State::Empty => {}
                State::Uniform(group) if Some(group) == default_group => {}
                _ => self.write_child(path, &child),
            }
            path.pop();
        }
    }

    /// Writes a child explicitly: its own record when it is a listed full address, a
    /// wildcard when everything below it is uniform, a visit when it is mixed.
    fn write_child(&mut self, path: &mut Vec<Label>, child: &Child) {
        if let Some(State::Uniform(group)) = child.leaf {
            self.entries.push(AddressEntry {
                path: path.clone(),
                wildcard: false,
                group,
                v4: path.len() == V4.depth,
                v6: path.len() == V6.depth,
                blocker: false,
            });
        }
        match child.below {
            Some(State::Uniform(group)) => self.entries.push(AddressEntry {
                path: path.clone(),
                wildcard: true,
                group,
                v4: child.v4 && path.len() < V4.depth,
                v6: child.v6,
                blocker: false,
            }),
            Some(State::Mixed) => self.visit(path),
            Some(State::Empty) | None => {}
        }
    }
}

/// The group of the node's wildcard, with the families it covers, or `None` for no
/// wildcard.
///
/// A wildcard is possible only when no empty child is a full address, because such a
/// name must not exist and would match the wildcard. It is written when it saves records:
/// it replaces the children of its group but costs one blocker for every empty child.
fn choose_wildcard(children: &[(Label, Child)]) -> Option<(u32, bool, bool)> {
    let mut empty = 0;
    for (_, child) in children {
        if child.combined() == State::Empty {
            if child.leaf.is_some() {
                return None;
            }
            empty += 1;
        }
    }
    let (group, v4, v6, count) = most_common_uniform(children)?;
    (count > empty + 1).then_some((group, v4, v6))
}

/// The listing group shared by most uniform children (the smallest group on a tie), with
/// the families those children cover and their number.
fn most_common_uniform(children: &[(Label, Child)]) -> Option<(u32, bool, bool, usize)> {
    let mut counts: HashMap<u32, (usize, bool, bool)> = HashMap::new();
    for (_, child) in children {
        if let State::Uniform(group) = child.combined() {
            let entry = counts.entry(group).or_insert((0, false, false));
            entry.0 += 1;
            entry.1 |= child.v4;
            entry.2 |= child.v6;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(&a.0)))
        .map(|(group, (count, v4, v6))| (group, v4, v6, count))
}

/// The first address below `path` in `family`, or `None` when `path` is not a proper
/// prefix of an address of that family.
fn prefix_value(path: &[Label], family: Family) -> Option<u128> {
    if path.len() >= family.depth {
        return None;
    }
    let mut value = 0u128;
    for (index, &label) in path.iter().enumerate() {
        let digit = match family.label_bits {
            8 if label < HEX_BASE => u128::from(label),
            4 if label < 10 => u128::from(label),
            4 if label >= HEX_BASE + 10 => u128::from(label - HEX_BASE),
            _ => return None,
        };
        value |= digit << (family.total_bits() - family.label_bits * (index as u32 + 1));
    }
    Some(value)
}

/// The state of each child range below the prefix at `prefix` with `len` labels.
fn child_states(segments: &Segments, prefix: u128, len: usize, family: Family) -> Vec<State> {
    let count = 1usize << family.label_bits;
    let span = family.child_span(len);
    let mut states = vec![State::Empty; count];
    let last = prefix + span * (count as u128 - 1) + (span - 1);
    let first_index = segments.partition_point(|segment| segment.1 < prefix);
    for &(start, end, group) in &segments[first_index..] {
        if start > last {
            break;
        }
        let start = start.max(prefix);
        let end = end.min(last);
        let first_child = ((start - prefix) / span) as usize;
        let last_child = ((end - prefix) / span) as usize;
        for (child, state) in states
            .iter_mut()
            .enumerate()
            .take(last_child + 1)
            .skip(first_child)
        {
            let child_start = prefix + span * child as u128;
            let child_end = child_start + (span - 1);
            let full = start <= child_start && end >= child_end;
            *state = if full && *state == State::Empty {
                State::Uniform(group)
            } else {
                State::Mixed
            };
        }
    }
    states
}

/// The text of one label.
pub fn label_text(label: Label) -> String {
    if label < HEX_BASE {
        label.to_string()
    } else {
        char::from_digit(u32::from(label - HEX_BASE), 16)
            .expect("nibble labels are below 16")
            .to_string()
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
pub(crate) mod tests;
