//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed.

mod admin;
mod bad_input;
mod crash;
mod db_state;
mod http;
mod ingest;
mod rbldnsd;
mod reload;
mod secrets;
mod serve;
mod support;
