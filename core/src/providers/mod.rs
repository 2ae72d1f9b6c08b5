//! Built-in providers: aniworld.to and s.to.
