//! The DNS front end of dnsbl: hickory-server on UDP and TCP, answering every query from
//! the current [`Snapshot`](dnsbl_core::Snapshot) through [`dnsbl_core::answer`].
//!
//! The handler adds what the answer function leaves to the transport. It sets the header
//! flags and the EDNS OPT record (RFC 6891), returns error codes for requests it does not
//! serve, and truncates UDP responses that exceed the client's size limit (RFC 1035
//! §4.2.1 without EDNS, the OPT payload size with it). Zone transfers (AXFR) and NOTIFY
//! are handled in `xfr`, before the answer function.
//!
//! hickory-server logs one line at info level for every response (targets `hickory_server`
//! and `hickory_net`); a program that embeds this crate should filter those targets at
//! `warn`, for example `info,hickory_server=warn,hickory_net=warn`.

mod cookie;
pub mod fallback;
mod fast_udp;
mod handler;
pub mod limits;
mod query_log;
mod server;
mod truncation;
mod udp_batch;
mod xfr;

pub use handler::{DnsblHandler, MAX_UDP_PAYLOAD};
pub use limits::{ClientLimits, RateLimitOptions, TcpLimits};
pub use query_log::QueryLog;
pub use server::{BoundListeners, DnsServer, ServerError, ServerOptions};
pub use xfr::{NotifyError, XfrAcl, send_notify};
