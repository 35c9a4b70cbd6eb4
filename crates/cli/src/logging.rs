//! Logging set-up (placeholder, being written).
