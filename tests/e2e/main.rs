//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed.

mod export;
mod ingest;
mod mirrors;
mod peers;
mod serve;
mod support;
