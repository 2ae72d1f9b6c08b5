//! The fixture catalogue: series, seasons, episodes, languages and hoster entries both sites serve.
