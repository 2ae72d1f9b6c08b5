//! The `aniworld` binary: a thin wrapper over [`aniworld_server::cli`].

/// mimalloc: the scanner, the page parsers and the API allocate many small values on several
/// threads and free them on others, where glibc malloc is much slower (10,000-series library:
/// first scan 295 ms with glibc, 190-205 ms with mimalloc; unchanged rescan 59 ms, 33 ms). It costs
/// about 7 MiB of idle memory (README: scan and API load benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    aniworld_server::cli::main()
}
