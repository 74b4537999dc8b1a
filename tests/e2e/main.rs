//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed; and
//! the mail stack in front of it: Unbound, Postfix (with swaks) and SpamAssassin.

mod admin;
mod admin_ingest;
mod allow;
mod api_walk;
mod bad_input;
mod categories;
mod check;
mod crash;
mod db_state;
mod export;
mod file_server;
mod http;
mod ingest;
mod lookup;
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
