//! Test support: a test-owned Redis.
#![allow(dead_code)]
pub mod redis;
