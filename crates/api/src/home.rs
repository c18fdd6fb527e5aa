//! `GET /`: what answers here and where to go next.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The server's front page, as JSON (a browser gets the same as HTML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Home {
    pub name: String,
    pub version: String,
    pub links: Vec<Link>,
}

/// One place to go, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub href: String,
    pub title: String,
}
