//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed; and
//! the mail stack in front of it: Unbound, Postfix (with swaks) and SpamAssassin.

mod admin;
mod allow;
mod bad_input;
mod check;
mod crash;
mod db_state;
mod export;
mod http;
mod ingest;
mod limits;
mod mail;
mod metrics;
mod mirrors;
mod openapi;
mod operators;
mod peers;
mod postfix;
mod rbldnsd;
mod reload;
mod resolver;
mod secrets;
mod serve;
mod spamassassin;
mod support;
mod tcp_limits;
