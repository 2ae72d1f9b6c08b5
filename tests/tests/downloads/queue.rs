//! The engine through the persistent queue, with the test-double provider and hosters.

use std::collections::BTreeMap;
use std::time::Duration;

use aniworld_core::events::Event;
use aniworld_core::model::Language;
use aniworld_core::queue::{EpisodeRequest, ItemStatus, SkipReason};
use aniworld_testkit::media;

use super::doubles::{Env, FakeEpisode, FakeProvider, files_below, finish, key, link};

fn provider(episodes: Vec<((u32, u32), FakeEpisode)>) -> FakeProvider {
    FakeProvider {
        name: "Fixture Show".into(),
        year: Some(2020),
        episodes: episodes.into_iter().collect::<BTreeMap<_, _>>(),
    }
}

fn one(links: Vec<aniworld_core::model::StreamLink>) -> FakeProvider {
    provider(vec![(
        (1, 1),
        FakeEpisode {
            title: Some("Pilot".into()),
            links,
        },
    )])
}

fn request(season: u32, episode: u32) -> EpisodeRequest {
    EpisodeRequest::new(key("fixture-show"), "aniworld", season, episode)
}

async fn add_and_run(
    env: &Env,
    requests: Vec<EpisodeRequest>,
) -> Vec<aniworld_core::queue::QueueItem> {
    let outcome = env.queue.add(requests).await.expect("add");
    let ids: Vec<i64> = outcome.added.iter().map(|i| i.id).collect();
    env.queue.start().await.expect("start");
    finish(&env.queue, &ids).await
}

const MP4_TARGET: &str = "Fixture Show (2020)/Season 01/Fixture Show - S01E001 - (German Dub).mp4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mp4_download_through_the_queue_matches_the_source() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:ep1")])).await;
    env.state()
        .set_knob("media.mp4_size", (3 << 20).to_string());
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let path = env.library().join(MP4_TARGET);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        media::expected_mp4(env.state(), "ep1")
    );
    assert_eq!(items[0].bytes, 3 << 20);
    assert_eq!(items[0].path.as_deref(), Some(path.to_str().unwrap()));
    // Only the finished file and the series metadata remain: no .part, no sidecar.
    assert_eq!(
        files_below(&env.library()),
        vec![
            "Fixture Show (2020)/.aniworld.json".to_owned(),
            MP4_TARGET.to_owned()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_folder_gets_its_metadata_file() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:meta")])).await;
    add_and_run(&env, vec![request(1, 1)]).await;
    let meta =
        aniworld_core::metadata::SeriesMetadata::read(&env.library().join("Fixture Show (2020)"))
            .unwrap()
            .expect("metadata written");
    assert_eq!(meta.key.as_str(), "fixture-show");
    assert_eq!(meta.site, "aniworld");
    assert_eq!(meta.year, Some(2020));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosters_headers_are_sent_with_media_requests() {
    let env = Env::start(one(vec![link(Language::GermanDub, "Vidoza", "mp4:hdr")])).await;
    add_and_run(&env, vec![request(1, 1)]).await;
    let media_requests: Vec<_> = env
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.server == "media")
        .collect();
    assert!(!media_requests.is_empty());
    for r in media_requests {
        assert_eq!(
            r.headers.get("referer").map(String::as_str),
            Some("http://Vidoza.example/")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_download_takes_the_best_variant_in_segment_order() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "hls:plain")])).await;
    env.state().set_knob("hls.segments", "12");
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let path = env
        .library()
        .join("Fixture Show (2020)/Season 01/Fixture Show - S01E001 - (German Dub).ts");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        media::expected_hls(env.state(), "plain", 1080)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_height_cap_picks_a_smaller_variant() {
    let env = Env::start_with(
        one(vec![link(Language::GermanDub, "VOE", "hls:capped")]),
        |c| c.download.max_height = 720,
    )
    .await;
    add_and_run(&env, vec![request(1, 1)]).await;
    let path = env
        .library()
        .join("Fixture Show (2020)/Season 01/Fixture Show - S01E001 - (German Dub).ts");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        media::expected_hls(env.state(), "capped", 720)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_aes128_segments_are_decrypted_with_given_and_sequence_ivs() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "hls:aes-show")])).await;
    env.state().set_knob("hls.segments", "9");
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let path = env
        .library()
        .join("Fixture Show (2020)/Season 01/Fixture Show - S01E001 - (German Dub).ts");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        media::expected_hls(env.state(), "aes-show", 1080)
    );
    let keys: Vec<String> = env
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains("key"))
        .map(|r| r.uri)
        .collect();
    assert_eq!(keys.len(), 2, "each key fetched once: {keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_resumes_with_a_range_request_and_bytes_match() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:drop")])).await;
    env.state()
        .set_knob("media.mp4_size", (2 << 20).to_string());
    env.state().set_knob("media.drop_after", "700000");
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let ranges = env.range_requests();
    assert!(
        ranges
            .iter()
            .any(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "no resuming Range request: {ranges:?}"
    );
    assert_eq!(
        std::fs::read(env.library().join(MP4_TARGET)).unwrap(),
        media::expected_mp4(env.state(), "drop")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hoster_falls_back_to_the_next_candidate() {
    let env = Env::start(one(vec![
        link(Language::GermanDub, "VOE", "mp4:broken-one"),
        link(Language::GermanDub, "Vidoza", "mp4:good-one"),
    ]))
    .await;
    env.state().set_knob("media.fail.broken-one", "503");
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    assert_eq!(
        std::fs::read(env.library().join(MP4_TARGET)).unwrap(),
        media::expected_mp4(env.state(), "good-one")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_preference_falls_back_to_the_next_language() {
    let env = Env::start(one(vec![
        link(Language::EnglishSub, "VOE", "mp4:eng"),
        link(Language::GermanDub, "VOE", "mp4:ger-broken"),
    ]))
    .await;
    env.state().set_knob("media.fail.ger-broken", "500");
    let items = add_and_run(&env, vec![request(1, 1)]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let path = env
        .library()
        .join("Fixture Show (2020)/Season 01/Fixture Show - S01E001 - (English Sub).mp4");
    assert_eq!(
        std::fs::read(path).unwrap(),
        media::expected_mp4(env.state(), "eng")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_item_does_not_block_the_others() {
    let env = Env::start(provider(vec![
        (
            (1, 1),
            FakeEpisode {
                title: None,
                links: vec![link(Language::GermanDub, "VOE", "mp4:dead")],
            },
        ),
        (
            (1, 2),
            FakeEpisode {
                title: None,
                links: vec![link(Language::GermanDub, "VOE", "mp4:alive")],
            },
        ),
    ]))
    .await;
    env.state().set_knob("media.fail.dead", "404");
    let items = add_and_run(&env, vec![request(1, 1), request(1, 2)]).await;
    let by_ep: BTreeMap<u32, _> = items.iter().map(|i| (i.episode, i)).collect();
    assert_eq!(by_ep[&1].status, ItemStatus::Failed);
    assert!(
        by_ep[&1]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("404")
    );
    assert_eq!(by_ep[&2].status, ItemStatus::Completed);
    assert!(
        env.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::DownloadFailed { .. }))
    );

    // Retry puts it back in line; with the hoster healed it completes.
    env.state().clear_knob("media.fail.dead");
    let retried = env.queue.retry_failed().await.unwrap();
    assert_eq!(retried, vec![by_ep[&1].id]);
    let again = finish(&env.queue, &retried).await;
    assert_eq!(again[0].status, ItemStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episode_already_queued_or_on_disk_is_not_added_again() {
    let env = Env::start(provider(vec![
        (
            (1, 1),
            FakeEpisode {
                title: None,
                links: vec![link(Language::GermanDub, "VOE", "mp4:a")],
            },
        ),
        (
            (1, 2),
            FakeEpisode {
                title: None,
                links: vec![link(Language::GermanDub, "VOE", "mp4:b")],
            },
        ),
    ]))
    .await;
    let first = env.queue.add(vec![request(1, 1)]).await.unwrap();
    assert_eq!(first.added.len(), 1);
    let again = env.queue.add(vec![request(1, 1)]).await.unwrap();
    assert!(again.added.is_empty());
    assert_eq!(
        again.skipped[0].reason,
        SkipReason::AlreadyQueued {
            item_id: first.added[0].id
        }
    );

    env.queue.start().await.unwrap();
    finish(&env.queue, &[first.added[0].id]).await;
    // Now the file exists: a new request for it is answered "on disk", and nothing is fetched.
    env.state().clear_requests();
    let on_disk = env
        .queue
        .add(vec![request(1, 1), request(1, 2)])
        .await
        .unwrap();
    assert_eq!(on_disk.added.len(), 1);
    assert_eq!(on_disk.added[0].episode, 2);
    assert!(
        matches!(on_disk.skipped[0].reason, SkipReason::OnDisk { .. }),
        "{:?}",
        on_disk.skipped
    );
    finish(&env.queue, &[on_disk.added[0].id]).await;
    assert!(
        !env.state()
            .requests()
            .iter()
            .any(|r| r.uri.contains("/v/a.mp4")),
        "the file on disk was fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_target_file_is_not_downloaded_again() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:exists")])).await;
    // A file in a folder without metadata: the add-time check cannot know it, the engine does.
    let target = env.library().join(MP4_TARGET);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"already here").unwrap();
    let outcome = env.queue.add(vec![request(1, 1)]).await.unwrap();
    assert_eq!(outcome.added.len(), 1);
    env.queue.start().await.unwrap();
    let items = finish(&env.queue, &[outcome.added[0].id]).await;
    assert_eq!(items[0].status, ItemStatus::Completed);
    assert!(!env.state().requests().iter().any(|r| r.server == "media"));
    assert_eq!(std::fs::read(&target).unwrap(), b"already here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_and_folder_names_stay_inside_the_library() {
    let mut p = one(vec![link(Language::GermanDub, "VOE", "mp4:hostile")]);
    p.name = "../../../../tmp/evil\0name/..".into();
    p.episodes.get_mut(&(1, 1)).unwrap().title = Some("../../escape/CON".into());
    let env = Env::start_with(p, |c| {
        c.library.naming_template =
            "{folder}/{title}/{episode_title} - S{season:02}E{episode:03}.mp4".into()
    })
    .await;
    let items = add_and_run(
        &env,
        vec![EpisodeRequest {
            folder: None,
            ..request(1, 1)
        }],
    )
    .await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let path = std::path::PathBuf::from(items[0].path.clone().unwrap());
    let root = env.library().canonicalize().unwrap();
    assert!(path.canonicalize().unwrap().starts_with(&root), "{path:?}");
    // Nothing was written next to the library.
    let outside: Vec<_> = files_below(env.dir.path())
        .into_iter()
        .filter(|f| !f.starts_with("library/") && !f.starts_with("aniworld.db"))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_running_download_deletes_its_partial_file() {
    let env = Env::start(one(vec![link(
        Language::GermanDub,
        "VOE",
        "mp4:slow-remove",
    )]))
    .await;
    env.state()
        .set_knob("media.mp4_size", (4 << 20).to_string());
    env.state().set_knob("media.rate", (1 << 20).to_string());
    let outcome = env.queue.add(vec![request(1, 1)]).await.unwrap();
    let id = outcome.added[0].id;
    env.queue.start().await.unwrap();
    let part = env.library().join(format!("{MP4_TARGET}.part"));
    wait_for(|| part.metadata().map(|m| m.len() > 0).unwrap_or(false)).await;
    env.queue.remove(id).await.unwrap();
    assert!(!part.exists(), "partial file left behind");
    assert!(
        env.queue.item(id).await.is_err(),
        "removed item still listed"
    );
    assert!(env.queue.status().await.unwrap().items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_an_interrupted_download_from_its_partial_file() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:restart")])).await;
    env.state()
        .set_knob("media.mp4_size", (4 << 20).to_string());
    env.state().set_knob("media.rate", (2 << 20).to_string());
    let outcome = env.queue.add(vec![request(1, 1)]).await.unwrap();
    let id = outcome.added[0].id;
    env.queue.start().await.unwrap();
    let part = env.library().join(format!("{MP4_TARGET}.part"));
    wait_for(|| part.metadata().map(|m| m.len() > 1 << 20).unwrap_or(false)).await;
    // Stop keeps the partial file; the item goes back to pending.
    env.queue.stop().await.unwrap();
    let kept = part.metadata().unwrap().len();
    assert!(kept > 0);
    assert_eq!(
        env.queue.item(id).await.unwrap().status,
        ItemStatus::Pending
    );

    env.state().clear_knob("media.rate");
    env.state().clear_requests();
    // A fresh queue over the same database: it was stopped, so it waits for start.
    let queue = env.reopen().await;
    queue.start().await.unwrap();
    let items = finish(&queue, &[id]).await;
    assert_eq!(
        items[0].status,
        ItemStatus::Completed,
        "{:?}",
        items[0].last_error
    );
    let ranges = env.range_requests();
    assert!(
        ranges.iter().any(|r| r != "bytes=0-"),
        "resume did not use Range: {ranges:?}"
    );
    assert_eq!(
        std::fs::read(env.library().join(MP4_TARGET)).unwrap(),
        media::expected_mp4(env.state(), "restart")
    );
    assert_eq!(
        queue.list().await.unwrap().len(),
        1,
        "duplicate queue items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_lets_the_current_download_finish_and_starts_nothing_new() {
    let env = Env::start_with(
        provider(vec![
            (
                (1, 1),
                FakeEpisode {
                    title: None,
                    links: vec![link(Language::GermanDub, "VOE", "mp4:p1")],
                },
            ),
            (
                (1, 2),
                FakeEpisode {
                    title: None,
                    links: vec![link(Language::GermanDub, "VOE", "mp4:p2")],
                },
            ),
        ]),
        |c| c.download.max_parallel = 1,
    )
    .await;
    env.state().set_knob("media.rate", (2 << 20).to_string());
    let outcome = env
        .queue
        .add(vec![request(1, 1), request(1, 2)])
        .await
        .unwrap();
    let (first, second) = (outcome.added[0].id, outcome.added[1].id);
    env.queue.start().await.unwrap();
    wait_for_status(&env, first, ItemStatus::Downloading).await;
    env.queue.pause().await.unwrap();
    let done = finish(&env.queue, &[first]).await;
    assert_eq!(done[0].status, ItemStatus::Completed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.queue.item(second).await.unwrap().status,
        ItemStatus::Pending
    );
    let status = env.queue.status().await.unwrap();
    assert!(status.paused && status.running);

    env.queue.resume().await.unwrap();
    let done = finish(&env.queue, &[second]).await;
    assert_eq!(done[0].status, ItemStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_carry_the_episode_context() {
    let env = Env::start(one(vec![link(Language::GermanDub, "VOE", "mp4:events")])).await;
    add_and_run(&env, vec![request(1, 1)]).await;
    let events = env.events.lock().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    for k in [
        "download_queued",
        "download_started",
        "download_progress",
        "download_complete",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let completed = events
        .iter()
        .find_map(|e| match e {
            Event::DownloadCompleted { context, size, .. } => Some((context.clone(), *size)),
            _ => None,
        })
        .unwrap();
    assert_eq!(completed.0.season, Some(1));
    assert_eq!(completed.0.episode, Some(1));
    assert_eq!(completed.0.language, Some(Language::GermanDub));
    assert_eq!(completed.0.folder.as_deref(), Some("Fixture Show (2020)"));
    assert!(completed.0.path.unwrap().ends_with(".mp4"));
    assert_eq!(completed.1, 1 << 20);
}

async fn wait_for(mut condition: impl FnMut() -> bool) {
    for _ in 0..400 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met within 10 s");
}

async fn wait_for_status(env: &Env, id: i64, status: ItemStatus) {
    for _ in 0..400 {
        if env.queue.item(id).await.unwrap().status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("item {id} never became {status}");
}

/// Renames episode 1 (to a hostile name) and skips episode 2.
struct RenameOrSkip;

#[async_trait::async_trait]
impl aniworld_core::events::DownloadHooks for RenameOrSkip {
    async fn before_download(
        &self,
        context: &aniworld_core::events::EventContext,
        file_name: &str,
    ) -> aniworld_core::events::HookDecision {
        use aniworld_core::events::HookDecision;
        assert!(file_name.ends_with(".mp4"), "{file_name}");
        match context.episode {
            Some(1) => HookDecision::Rename("../../renamed by hook.mp4".into()),
            _ => HookDecision::Skip,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_download_hook_can_rename_inside_the_folder_or_skip() {
    let env = Env::start_with_hooks(
        provider(vec![
            (
                (1, 1),
                FakeEpisode {
                    title: None,
                    links: vec![link(Language::GermanDub, "VOE", "mp4:h1")],
                },
            ),
            (
                (1, 2),
                FakeEpisode {
                    title: None,
                    links: vec![link(Language::GermanDub, "VOE", "mp4:h2")],
                },
            ),
        ]),
        |_| {},
        std::sync::Arc::new(RenameOrSkip),
    )
    .await;
    let items = add_and_run(&env, vec![request(1, 1), request(1, 2)]).await;
    let by_ep: BTreeMap<u32, _> = items.iter().map(|i| (i.episode, i)).collect();
    assert_eq!(
        by_ep[&1].status,
        ItemStatus::Completed,
        "{:?}",
        by_ep[&1].last_error
    );
    let renamed = env
        .library()
        .join("Fixture Show (2020)/Season 01/renamed by hook.mp4");
    assert_eq!(
        std::fs::read(renamed).unwrap(),
        media::expected_mp4(env.state(), "h1")
    );
    assert_eq!(by_ep[&2].status, ItemStatus::Cancelled);
    assert!(
        !env.state()
            .requests()
            .iter()
            .any(|r| r.uri.contains("/v/h2.mp4"))
    );
}
