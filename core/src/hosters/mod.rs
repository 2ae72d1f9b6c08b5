//! Built-in hoster extractors.
