//! One file per noun. Each handler turns arguments into a domain request, calls the domain,
//! and hands the result to the Printer.

pub mod account;
pub mod audit;
pub mod config;
pub mod db;
pub mod org;
pub mod role;
pub mod token;
pub mod usage;
