//! Builds the whole application (database, registry, queue, services, routes) from a config.
