// How the settings page presents each config key to people: group, plain label, hint, unit,
// whether it needs a restart, and whether it is advanced (folded away). Keys not listed here still
// show up (in "Other", with a label made from the key), so a new config key is never hidden.

/** Groups in page order. `keys` may end in `.*` (every key of a section). */
export const GROUPS = [
  { id: 'library', title: 'Library', hint: 'Where your series live and how downloaded files are named.' },
  { id: 'downloads', title: 'Downloads', hint: 'What is downloaded first and how fast.' },
  { id: 'sites', title: 'Sites', hint: 'The sites episodes come from. When a site is blocked where you live, give it a mirror or a proxy.' },
  { id: 'network', title: 'Network', hint: 'A proxy for every site and hoster, and when a site counts as down.' },
  { id: 'signin', title: 'Sign-in', hint: 'Login sessions and the master password.' },
  { id: 'extensions', title: 'Plugins and scripts', hint: 'Native plugins and rhai scripts.' },
  { id: 'server', title: 'Server', hint: 'How the server listens and what it accepts.' },
  { id: 'database', title: 'Database' },
  { id: 'other', title: 'Other' },
];

const HOUR = 3600;

/** Per key: `group`, `label`, `hint`, `unit`, `scale` (shown value × scale = stored value), `restart`, `advanced`, `kind`. */
export const FIELDS = {
  'library.path': { group: 'library', label: 'Library folder', hint: 'Every folder in it is one series. Indexed again as soon as it changes.' },
  'library.naming_template': { group: 'library', label: 'File names of downloads', advanced: true, hint: 'Relative to the library folder. Placeholders: {folder} {title} {year} {season} {episode} {language} {episode_title}; {episode:02} pads with zeros.' },

  'download.autostart': { group: 'downloads', label: 'Start the queue with the server', hint: 'Queued episodes download without pressing Start. A paused queue stays paused.' },
  'download.languages': { group: 'downloads', label: 'Languages, best first', kind: 'list', hint: 'One per line: German Dub, German Sub, English Sub, English Dub.' },
  'download.max_parallel': { group: 'downloads', label: 'Downloads at once', hint: '1 to 32, per server instance.' },
  'download.lease_secs': { group: 'downloads', label: 'Queue lease', unit: 'seconds', advanced: true, hint: '5 to 600. With several servers on one PostgreSQL database: how long before another server takes over the download of one that stopped answering.' },
  'download.rate_limit': { group: 'downloads', label: 'Bandwidth limit', unit: 'MB/s', scale: 1e6, hint: '0 = unlimited.' },
  'download.max_height': { group: 'downloads', label: 'Highest video quality', unit: 'pixels high', hint: '0 = the best there is; e.g. 720 or 1080.' },
  'download.hosters': { group: 'downloads', label: 'Hosters, best first', kind: 'list', advanced: true, hint: 'One per line. Hosters not listed are tried after these.' },
  'download.segment_parallelism': { group: 'downloads', label: 'Parts fetched at once per download', advanced: true, hint: 'For HLS streams; 1 to 64.' },
  'download.attempts_per_candidate': { group: 'downloads', label: 'Tries per language and hoster', advanced: true },
  'download.remux': { group: 'downloads', label: 'Convert streams with ffmpeg', advanced: true, hint: 'none, mp4 or mkv (needs ffmpeg on the PATH).' },

  'providers.*.base_url': { group: 'sites', label: 'Address', hint: 'The site’s base URL.' },
  'providers.*.enabled': { group: 'sites', label: 'Use this site', restart: true },
  'providers.*.mirrors': { group: 'sites', label: 'Mirrors', kind: 'list', advanced: true, hint: 'Other addresses of the same site, one per line, tried when the address above cannot be reached.' },
  'providers.*.proxy': { group: 'sites', label: 'Proxy for this site', advanced: true, hint: 'http://, https:// or socks5:// URL; empty = the network proxy.' },
  'providers.*.headers': { group: 'sites', label: 'Extra request headers', kind: 'headers', advanced: true, hint: 'One “Name: value” per line, e.g. Cookie: cf_clearance=… and the User-Agent of a browser that passed the site’s bot check. *** keeps a stored secret.' },
  'providers.*.rate_limit': { group: 'sites', label: 'Requests per second', unit: 'per second', advanced: true },
  'providers.*.timeout': { group: 'sites', label: 'Request timeout', unit: 'seconds', advanced: true },
  'providers.*.retries': { group: 'sites', label: 'Retries', advanced: true, hint: 'On timeouts and server errors; at most 10.' },

  'network.proxy': { group: 'network', label: 'Proxy', hint: 'http://, https:// or socks5:// URL for sites, hosters and downloads; empty = none.' },
  'network.down_after': { group: 'network', label: 'Failures before a site counts as down', advanced: true },
  'network.cooldown': { group: 'network', label: 'First pause for a down site', unit: 'seconds', advanced: true, hint: 'Doubled while it stays down.' },
  'network.max_cooldown': { group: 'network', label: 'Longest pause for a down site', unit: 'seconds', advanced: true },
  'cache.series_ttl': { group: 'network', label: 'Ask the sites for new episodes every', unit: 'seconds', hint: `${6 * HOUR} s = 6 hours.` },

  'auth.token_ttl': { group: 'signin', label: 'Stay signed in for', unit: 'seconds', hint: '86400 s = 1 day.' },
  'auth.max_failed_logins_per_minute': { group: 'signin', label: 'Wrong passwords allowed per minute', advanced: true },
  'auth.bcrypt_cost': { group: 'signin', label: 'Password hashing cost', advanced: true, hint: 'Applies when the password is next set; 4 to 31, higher is slower.' },

  'plugins.dir': { group: 'extensions', label: 'Plugin folder', restart: true, advanced: true, hint: 'Relative to the data folder.' },
  'plugins.call_timeout_ms': { group: 'extensions', label: 'Plugin call timeout', unit: 'ms', advanced: true },
  'scripts.dir': { group: 'extensions', label: 'Script folder', restart: true, advanced: true, hint: 'Relative to the data folder.' },
  'scripts.watch': { group: 'extensions', label: 'Reload scripts when they change', advanced: true },
  'scripts.time_limit_ms': { group: 'extensions', label: 'Script time limit per call', unit: 'ms', advanced: true },
  'scripts.max_operations': { group: 'extensions', label: 'Script operations per call', advanced: true },
  'scripts.settings': { group: 'extensions', label: 'Values for scripts', kind: 'map', advanced: true, hint: 'One “name = value” per line; scripts read them with config("name").' },

  'server.bind': { group: 'server', label: 'Listen address', restart: true, advanced: true },
  'server.cors_origins': { group: 'server', label: 'Allowed web origins (CORS)', kind: 'list', restart: true, advanced: true, hint: 'One per line; empty = other web pages cannot call the API.' },
  'server.body_limit': { group: 'server', label: 'Largest request', unit: 'bytes', advanced: true },
  'server.request_timeout': { group: 'server', label: 'Request timeout', unit: 'seconds', advanced: true },
  'server.metrics_public': { group: 'server', label: 'Metrics without sign-in', advanced: true, hint: 'GET /metrics answers without a token (for Prometheus); set in config.json.' },

  'database.url': { group: 'database', label: 'Database URL', restart: true, advanced: true, hint: 'Empty = SQLite in the data folder.' },
  'database.redis_url': { group: 'database', label: 'Redis URL', restart: true, advanced: true },
};

/** The presentation of `path` (`providers.sto.base_url` → the `providers.*.base_url` entry). */
export function fieldOf(path) {
  const parts = path.split('.');
  const generic = parts[0] === 'providers' && parts.length >= 3 ? `providers.*.${parts.slice(2).join('.')}` : null;
  const key = FIELDS[path] ? path : generic && FIELDS[generic] ? generic : null;
  if (key) return { ...FIELDS[key], rank: ORDER.indexOf(key) };
  return { group: GROUP_OF_SECTION[parts[0]] || 'other', label: humanize(parts[parts.length - 1]), advanced: true, rank: ORDER.length };
}

/** Fields show in the order they are listed above. */
const ORDER = Object.keys(FIELDS);

const GROUP_OF_SECTION = {
  library: 'library', download: 'downloads', providers: 'sites', network: 'network', cache: 'network',
  auth: 'signin', plugins: 'extensions', scripts: 'extensions', server: 'server', database: 'database',
};

function humanize(key) {
  return String(key).replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}
