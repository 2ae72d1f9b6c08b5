//! The composition root: from a data dir and the command line's overrides it builds everything
//! a command needs (config, database, registry with built-ins, native plugins, scripts and
//! hooks, event hub, catalogue, library, queue). `aniworld serve` and every CLI command use it,
//! so a plugin or a script works the same everywhere.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aniworld_core::catalogue::Catalogue;
use aniworld_core::config::Config;
use aniworld_core::connections::ConnectionService;
use aniworld_core::covers::Covers;
use aniworld_core::events::CallbackManager;
use aniworld_core::follow::{EpisodeSink, FollowService};
use aniworld_core::library::Library;
use aniworld_core::network::Network;
use aniworld_core::queue::DownloadQueue;
use aniworld_core::registry::Registry;
use aniworld_core::storage::{Dialect, Store};

/// How often an instance on a shared database looks for series changed by the others.
const LIBRARY_FOLLOW: std::time::Duration = std::time::Duration::from_secs(2);
use aniworld_core::{Error, Result};

use crate::extensions::Extensions;
use crate::redis_link::RedisLink;

/// What the command line sets for one run only (never written to `config.json`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `library.path`.
    pub library: Option<PathBuf>,
    /// `server.bind`.
    pub bind: Option<String>,
}

/// Where a config key's value in effect comes from, when not from `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideSource {
    /// An `ANIWORLD_<SECTION>__<KEY>` environment variable.
    Env,
    /// A command-line flag (`--library`, `--bind`).
    Cli,
}

/// A config key (or a whole section) whose value in effect is not the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverriddenKey {
    /// `library.path`, or a section such as `providers.sto`.
    pub key: String,
    pub source: OverrideSource,
    /// The variable or flag that sets it (`ANIWORLD_LIBRARY__PATH`, `--library`).
    pub by: String,
}

/// Where the database is: the data dir's, or one in memory for this run only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// `database.url`, by default `DATA_DIR/aniworld.db`.
    DataDir,
    /// Nothing is kept (a command run without a data dir).
    Memory,
}

/// What a command asks of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub data_dir: PathBuf,
    pub overrides: Overrides,
    /// Whether a missing data dir (and `config.json`) is created. When not, and the data dir has
    /// no config, the defaults apply and the database lives in memory.
    pub create: bool,
    pub storage: Storage,
    /// Build the download queue (it resumes what a previous run left downloading).
    pub queue: bool,
    /// Reload scripts when their files change.
    pub watch_scripts: bool,
    /// Deliver events to the configured connections (notifications, media servers).
    pub connections: bool,
    /// Share events (and the login limiter) with other instances through
    /// `database.redis_url` when it is set.
    pub redis: bool,
}

impl RuntimeOptions {
    /// Everything, as `aniworld serve` runs it.
    pub fn server(data_dir: PathBuf, overrides: Overrides) -> Self {
        RuntimeOptions {
            data_dir,
            overrides,
            create: true,
            storage: Storage::DataDir,
            queue: true,
            watch_scripts: true,
            connections: true,
            redis: true,
        }
    }

    /// For a command that asks providers or hosters: the data dir's config, plugins and
    /// scripts, its database (created if missing); no queue.
    pub fn command(data_dir: PathBuf) -> Self {
        RuntimeOptions {
            data_dir,
            overrides: Overrides::default(),
            create: true,
            storage: Storage::DataDir,
            queue: false,
            watch_scripts: false,
            connections: false,
            redis: false,
        }
    }
}

/// Everything built. Cheap to share behind an `Arc`.
pub struct Runtime {
    pub data_dir: PathBuf,
    overrides: Overrides,
    config: RwLock<Arc<Config>>,
    pub store: Store,
    pub registry: Registry,
    pub events: CallbackManager,
    pub extensions: Arc<Extensions>,
    pub catalogue: Catalogue,
    pub library: Library,
    pub queue: Option<DownloadQueue>,
    /// Proxy, mirrors in use and down cooldowns of the sites and hosters.
    pub network: Network,
    /// Delivery to the configured connections (the server only).
    pub connections: Option<ConnectionService>,
    /// Series covers in `DATA_DIR/covers`.
    pub covers: Covers,
    /// Events and login attempts shared with other instances (`database.redis_url`, the server
    /// only).
    pub redis: Option<RedisLink>,
    /// Followed series and their checks (the server also runs the scheduler).
    pub follow: FollowService,
}

/// The config file of `data_dir` with the environment and `overrides` applied.
pub fn load_config(data_dir: &Path, overrides: &Overrides, create: bool) -> Result<Config> {
    let mut config = if create || Config::path(data_dir).exists() {
        Config::load_or_create(data_dir)?
    } else {
        let mut value = serde_json::to_value(Config::default()).expect("config serialises");
        aniworld_core::config::apply_env_overrides(&mut value, std::env::vars())?;
        Config::from_value(value)?
    };
    if let Some(library) = &overrides.library {
        config.library.path = library.clone();
    }
    if let Some(bind) = &overrides.bind {
        config.server.bind = bind.clone();
    }
    Ok(config)
}

/// The database `database.url` names: empty = SQLite `DATA_DIR/aniworld.db`, `sqlite:PATH` = that
/// file, `postgres://...` = a PostgreSQL database shared by several instances.
pub async fn open_store(config: &Config, data_dir: &Path) -> Result<Store> {
    let url = config.database.url.trim();
    if url.is_empty() {
        return Store::open_sqlite(&data_dir.join("aniworld.db")).await;
    }
    Store::open_url(url).await
}

/// Built-in providers (those enabled in `config`) and hosters, on the runtime's network.
pub fn register_builtins(registry: &Registry, config: &Config, network: &Network) -> Result<()> {
    aniworld_core::providers::register_builtin_on(registry, config, network)?;
    aniworld_core::hosters::register_builtin(
        registry,
        aniworld_core::hosters::common::HosterClient::on_network(network)?,
    );
    Ok(())
}

impl Runtime {
    pub async fn open(options: RuntimeOptions) -> Result<Runtime> {
        let data_dir = options.data_dir.clone();
        let exists = Config::path(&data_dir).exists();
        if options.create {
            std::fs::create_dir_all(&data_dir).map_err(|e| Error::io(&data_dir, e))?;
            // The password hash, sessions and the JWT secret live here.
            aniworld_core::storage::restrict_dir_to_owner(&data_dir)?;
        }
        let config = load_config(&data_dir, &options.overrides, options.create)?;
        let store = match options.storage {
            Storage::DataDir if options.create || exists => open_store(&config, &data_dir).await?,
            _ => Store::open_memory().await?,
        };
        let registry = Registry::new();
        let events = CallbackManager::new();
        let redis_url = config.database.redis_url.trim();
        let redis = if options.redis && !redis_url.is_empty() {
            Some(RedisLink::start(redis_url, &events)?)
        } else {
            None
        };
        let network = Network::with_store(&config, store.clone()).await?;
        register_builtins(&registry, &config, &network)?;
        let extensions = Arc::new(
            Extensions::load(
                &config,
                &data_dir,
                &registry,
                &events,
                options.create,
                options.watch_scripts,
            )
            .await,
        );
        let catalogue =
            Catalogue::open(registry.clone(), store.clone(), config.cache.series_ttl).await?;
        let library = Library::open(
            store.clone(),
            catalogue.clone(),
            events.clone(),
            config.library.path.clone(),
        )
        .await?;
        if options.queue && store.dialect() == Dialect::Postgres {
            // Other instances add, scan and download into the same database.
            library.follow_store(LIBRARY_FOLLOW);
        }
        let queue = if options.queue {
            Some(
                DownloadQueue::new(
                    store.clone(),
                    registry.clone(),
                    library.clone(),
                    config.clone(),
                    events.clone(),
                    extensions.download_hooks(),
                )
                .await?,
            )
        } else {
            None
        };
        let covers = Covers::open(data_dir.join("covers"), network.clone());
        // Checks queue into the running queue; without one (a CLI command) they write the
        // queue's items for the server to run.
        let sink: Arc<dyn EpisodeSink> = match &queue {
            Some(queue) => Arc::new(queue.clone()),
            None => Arc::new(aniworld_core::queue::QueueAdder::new(
                store.clone(),
                registry.clone(),
                library.clone(),
                events.clone(),
            )),
        };
        let follow = FollowService::open(
            store.clone(),
            library.clone(),
            registry.clone(),
            events.clone(),
            Some(sink),
            config.follow.interval,
        )
        .await?;
        let connections = options.connections.then(|| {
            ConnectionService::start(
                store.clone(),
                &events,
                &config.connections,
                extensions.custom_connections(),
            )
        });
        Ok(Runtime {
            data_dir,
            overrides: options.overrides,
            config: RwLock::new(Arc::new(config)),
            store,
            registry,
            events,
            extensions,
            catalogue,
            library,
            queue,
            network,
            connections,
            covers,
            redis,
            follow,
        })
    }

    /// The config in effect (file + environment + command-line overrides).
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The keys whose value in effect comes from the environment or the command line: never
    /// written to `config.json` through the API.
    pub fn overridden_keys(&self) -> Vec<OverriddenKey> {
        let mut keys: Vec<OverriddenKey> =
            aniworld_core::config::env_override_keys(std::env::vars())
                .into_iter()
                .map(|(key, by)| OverriddenKey {
                    key,
                    source: OverrideSource::Env,
                    by,
                })
                .collect();
        let cli = [
            (
                "library.path",
                "--library",
                self.overrides.library.is_some(),
            ),
            ("server.bind", "--bind", self.overrides.bind.is_some()),
        ];
        for (key, flag, set) in cli {
            if set {
                // The flag wins over the environment (it is applied last).
                keys.retain(|k| k.key != key);
                keys.push(OverriddenKey {
                    key: key.to_owned(),
                    source: OverrideSource::Cli,
                    by: flag.to_owned(),
                });
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        keys
    }

    /// Re-reads `config.json` after a change and hands it to the services. A new
    /// `library.path` is indexed at once.
    pub async fn reload_config(&self) -> Result<()> {
        let config = load_config(&self.data_dir, &self.overrides, true)?;
        let old_root = self.library.root();
        if let Some(queue) = &self.queue {
            queue.set_config(config.clone()).await;
        }
        self.catalogue.set_ttl(config.cache.series_ttl);
        self.follow.set_interval(config.follow.interval);
        self.network.reconfigure(&config);
        if let Some(connections) = &self.connections {
            connections.set_connections(&config.connections);
        }
        let new_root = config.library.path.clone();
        *self.config.write().expect("config lock") = Arc::new(config);
        if new_root != old_root {
            self.library.set_root(new_root);
            if let Err(e) = self.library.start_scan() {
                tracing::warn!(error = %e, "the new library folder cannot be indexed");
            }
        }
        Ok(())
    }

    /// Stops background work: running downloads are interrupted with their partial files kept,
    /// and the queue carries on from them on the next start.
    pub async fn shutdown(&self) {
        if let Some(redis) = &self.redis {
            redis.stop();
        }
        if let Some(queue) = &self.queue
            && let Err(e) = queue.shutdown().await
        {
            tracing::error!(error = %e, "the download queue did not stop cleanly");
        }
    }
}
