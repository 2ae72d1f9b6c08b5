//! Downloads against the fixture site: the engine and the persistent queue, MP4 and HLS,
//! resume, fallback, naming safety, and the `aniworld download` command.

#[path = "downloads/cli.rs"]
mod cli;
#[path = "downloads/doubles.rs"]
mod doubles;
#[path = "downloads/queue.rs"]
mod queue;
