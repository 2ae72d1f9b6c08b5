//! REST API (poem-openapi).
