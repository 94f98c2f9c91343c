//! API tests: every test spawns PartyPic on a random port against a real backend pair.

mod admin;
mod auth;
mod compression;
mod cors;
mod disk_full;
mod errors;
mod event_management;
mod guests;
mod helpers;
mod hosting;
mod identity;
mod invite;
mod join_codes;
mod live;
mod operations;
mod outages;
mod password_reset;
mod pictures;
mod quotas;
mod reactions;
mod replicas;
mod retention;
mod rules;
mod sessions;
mod together;
mod variants;
