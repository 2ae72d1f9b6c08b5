//! aniworld.to and s.to markup.
pub mod aniworld;
pub mod sto;
