//! The event map hook functions receive, and which event runs which hook.

use aniworld_core::events::{Event, EventContext};
use rhai::{Dynamic, Map};

fn opt<T: Into<Dynamic>>(v: Option<T>) -> Dynamic {
    v.map_or(Dynamic::UNIT, Into::into)
}

/// `#{event, key, site, folder, season, episode, language, path, size, ...}`; absent values are `()`.
pub fn event_map(hook: &str, context: Option<&EventContext>) -> Map {
    let mut m = Map::new();
    m.insert("event".into(), hook.into());
    m.insert("key".into(), opt(context.map(|c| c.key.to_string())));
    m.insert("site".into(), opt(context.and_then(|c| c.site.clone())));
    m.insert("folder".into(), opt(context.and_then(|c| c.folder.clone())));
    m.insert(
        "season".into(),
        opt(context.and_then(|c| c.season).map(i64::from)),
    );
    m.insert(
        "episode".into(),
        opt(context.and_then(|c| c.episode).map(i64::from)),
    );
    m.insert(
        "language".into(),
        opt(context
            .and_then(|c| c.language)
            .map(|l| l.as_str().to_owned())),
    );
    m.insert("path".into(), opt(context.and_then(|c| c.path.clone())));
    m.insert("size".into(), Dynamic::UNIT);
    m
}

fn int(v: u64) -> Dynamic {
    Dynamic::from(i64::try_from(v).unwrap_or(i64::MAX))
}

/// The hook an event runs and its map, or `None` for events without a hook.
pub fn hook_for(event: &Event) -> Option<(&'static str, Map)> {
    match event {
        Event::SeriesAdded { context, name } => {
            let mut m = event_map("on_series_added", Some(context));
            m.insert("name".into(), name.clone().into());
            Some(("on_series_added", m))
        }
        Event::DownloadCompleted {
            item_id,
            context,
            size,
        } => {
            let mut m = event_map("on_download_completed", Some(context));
            m.insert("item_id".into(), Dynamic::from(*item_id));
            m.insert("size".into(), int(*size));
            Some(("on_download_completed", m))
        }
        Event::DownloadFailed {
            item_id,
            context,
            error,
        } => {
            let mut m = event_map("on_download_failed", Some(context));
            m.insert("item_id".into(), Dynamic::from(*item_id));
            m.insert("error".into(), error.clone().into());
            Some(("on_download_failed", m))
        }
        Event::ScanCompleted {
            scan_id,
            series,
            episodes,
            unmatched,
            missing,
            duration_ms,
        } => {
            let mut m = event_map("on_scan_completed", None);
            m.insert("scan_id".into(), scan_id.clone().into());
            m.insert("series".into(), int(*series));
            m.insert("episodes".into(), int(*episodes));
            m.insert("unmatched".into(), int(*unmatched));
            m.insert("missing".into(), opt(missing.map(int)));
            m.insert("duration_ms".into(), int(*duration_ms));
            Some(("on_scan_completed", m))
        }
        _ => None,
    }
}

/// A name `before_download` may return: one path component, nothing that climbs out.
pub fn valid_file_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty()
        && trimmed.len() <= 255
        && trimmed != "."
        && trimmed != ".."
        && !trimmed.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aniworld_core::SeriesKey;

    #[test]
    fn completed_download_map_has_the_documented_fields() {
        let mut ctx = EventContext::new(SeriesKey::parse("demo").unwrap());
        ctx.season = Some(1);
        ctx.episode = Some(2);
        ctx.path = Some("/lib/x.mp4".into());
        let (hook, m) = hook_for(&Event::DownloadCompleted {
            item_id: 7,
            context: ctx,
            size: 1234,
        })
        .unwrap();
        assert_eq!(hook, "on_download_completed");
        for field in [
            "key", "site", "folder", "season", "episode", "language", "path", "size",
        ] {
            assert!(m.contains_key(field), "{field} missing");
        }
        assert_eq!(m["size"].as_int().unwrap(), 1234);
        assert_eq!(m["season"].as_int().unwrap(), 1);
    }

    #[test]
    fn rename_must_stay_a_plain_name() {
        assert!(valid_file_name("Show - S01E01.mp4"));
        for bad in ["", "..", "../x.mp4", "a/b.mp4", "a\\b", "x\0"] {
            assert!(!valid_file_name(bad), "{bad:?}");
        }
    }
}
