//! PartyPic: photo sharing for weddings and parties.
//!
//! Layers, top to bottom: [`http`] (routes, extractors, errors) → [`domain`] (rules and values)
//! → storage traits [`db::Database`] and [`store::PhotoStore`] → their backends
//! (PostgreSQL / SQLite; S3 / local disk), chosen once at start in [`startup`].

pub mod admin_cli;
pub mod allocator;
pub mod app;
pub mod backup;
pub mod binary_pages;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod thumbnails;
pub mod tls;
pub mod workers;
