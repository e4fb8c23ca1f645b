//! Integration tests: the real `sa` binary against a temporary database, config and HOME.
//! One test binary; one module per area.

mod support;

mod accounts;
mod apply;
mod audit;
mod config;
mod copy;
mod crash;
mod database;
mod generated;
mod hosts;
mod jq;
mod library;
mod migrations;
mod output;
mod postgres;
mod prompts;
mod readme;
mod roles;
mod scan;
mod storage;
mod tidy;
mod tls;
mod token_files;
mod tokens;
mod usage;
mod verify;
