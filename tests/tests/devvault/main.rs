//! End-to-end tests of DevVault over real sockets: signature checks, the connect flow through
//! the hosted pages and the demo provider, credential retrieval and refresh, managed agents and
//! delegation, audit rows, bad input and concurrency.

mod agents;
mod bad_input;
mod builder;
mod concurrency;
mod connect;
mod connect_fields;
mod flow;
mod interop;
mod limits;
mod pages;
mod proxy;
mod scope_report;
mod signature;
mod signin;
mod support;
mod vault_client;
