//! Delivery, pure: what the release side of headroom decides from numbers it is given.
//!
//! Modules, in dependency order:
//! - [`canary`]: a canary judged against its baseline as Kayenta's NetflixACAJudge does
//!   (Mann-Whitney per metric, Pass/High/Low/Nodata labels, weighted group scores and a
//!   Pass/Marginal/Fail verdict).
//!
//! Pure: no IO, no async, no clock. Inputs arrive as values (samples already fetched), every
//! refusal is a [`canary::CanaryError`] naming what and where, and nothing is judged from input
//! that was refused in part.

pub mod canary;
