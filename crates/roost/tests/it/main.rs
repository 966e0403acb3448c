//! End-to-end tests: the real `roost` binary on port 0 in a temp dir, over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod accounts;
mod audit;
mod bad_input;
mod cli;
mod clients;
mod extensions;
mod matrix;
mod media;
mod oauth;
mod posts;
mod promises;
mod social;
mod streaming;
mod timelines;
mod visibility;
mod web;
