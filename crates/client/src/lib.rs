//! Client (placeholder, being written).
