//! The `aniworld` binary: a thin wrapper over [`aniworld_server::cli`].

fn main() -> std::process::ExitCode {
    aniworld_server::cli::main()
}
