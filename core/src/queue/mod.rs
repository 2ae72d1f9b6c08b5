//! The persistent download queue.
