//! Black-box tests: the real `dnsbl` binary, a real SQLite file in a temporary directory,
//! real DNS messages over UDP and TCP on loopback, and `dig` where it is installed; and
//! the mail stack in front of it: Unbound, Postfix (with swaks), Exim, rspamd and
//! SpamAssassin.

mod admin;
mod admin_ingest;
mod allow;
mod api_walk;
mod bad_input;
mod categories;
mod check;
mod crash;
mod db_state;
mod edns_cookie;
mod exim;
mod export;
mod failed_reload;
mod file_server;
mod help;
mod http;
mod ingest;
mod limits;
mod logs;
mod lookup;
mod mail;
mod malloc_env;
mod metrics;
mod mirrors;
mod openapi;
mod operators;
mod peers;
mod postfix;
mod progress;
mod provider_names;
mod query_log;
mod rbldnsd;
mod reload;
mod resolver;
mod restart;
mod rspamd;
mod secrets;
mod serve;
mod spamassassin;
mod support;
mod tcp_limits;
mod txt_escaping;
mod unservable_register;
