//! Providers against the fixture site: every operation of aniworld.to and s.to, the failure kinds
//! (blocked, not found, changed markup), the HTTP behaviour, the catalog cache, the CLI over the
//! real binary, and a property test that no parser panics on hostile HTML.

mod providers {
    pub mod aniworld;
    pub mod cli;
    pub mod common;
    pub mod fuzz;
    pub mod http;
    pub mod sto;
}
