//! Language and hoster choice: ranked (language, hoster, link) candidates for an episode.
