//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed; and
//! the mail stack in front of it: Unbound, Postfix (with swaks), Exim, rspamd and
//! SpamAssassin.

mod admin;
mod allow;
mod bad_input;
mod check;
mod crash;
mod db_state;
mod exim;
mod export;
mod help;
mod http;
mod ingest;
mod logs;
mod mail;
mod metrics;
mod mirrors;
mod openapi;
mod operators;
mod peers;
mod postfix;
mod progress;
mod query_log;
mod rbldnsd;
mod reload;
mod resolver;
mod rspamd;
mod secrets;
mod serve;
mod spamassassin;
mod support;
