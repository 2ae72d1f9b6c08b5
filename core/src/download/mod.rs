//! Download engine: candidates → media source → MP4 / HLS download → file in the library.
