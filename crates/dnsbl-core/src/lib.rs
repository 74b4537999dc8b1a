//! The I/O-free core of dnsbl: address ranges, the listing model, the immutable lookup
//! snapshot and the DNSBL answer function.
//!
//! Nothing here touches a socket, a file or the database, so every rule of what the server
//! answers can be tested as a plain function call.

pub mod acl;
pub mod answer;
pub mod counters;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod listings;
pub mod model;
pub mod net;
pub mod snapshot;
pub mod width;

pub use acl::{AclAction, AclRule, ClientAcl};
pub use answer::{Answer, answer};
pub use counters::{QueryCounters, ZoneSlot};
pub use listings::{ListingRef, ListingTable, SourceRef};
pub use model::{AnswerStyle, Category, Listing, ListingSource, SoaSpec, ZoneKind, ZoneSpec};
pub use net::{AddrRange, NetblockError};
pub use snapshot::{ListingId, Snapshot, SnapshotBuilder, SnapshotError};
pub use width::RangeLimit;
