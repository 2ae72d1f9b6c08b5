//! The `aniworld` binary: a thin wrapper over [`aniworld_server::cli`].

/// mimalloc: the scanner, the page parsers and the API allocate many small values on several
/// threads and free them on others, where glibc malloc is much slower (figures: docs/scanner.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    aniworld_server::cli::main()
}
