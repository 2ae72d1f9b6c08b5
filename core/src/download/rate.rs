//! One bandwidth limit shared by every download (`download.rate_limit`, bytes per second).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A token bucket holding at most a quarter second of traffic; 0 bytes/s = unlimited.
#[derive(Debug)]
pub struct RateLimiter {
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes that may still be sent; negative = debt to wait off.
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(bytes_per_second: u64) -> Self {
        RateLimiter {
            rate: AtomicU64::new(bytes_per_second),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            }),
        }
    }

    /// Changes the limit at run time (config reload).
    pub fn set_rate(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Accounts for `bytes` just received and sleeps long enough to keep every caller together
    /// under the limit.
    pub async fn consume(&self, bytes: usize) {
        let rate = self.rate();
        if rate == 0 {
            return;
        }
        let wait = {
            let mut b = self.bucket.lock().expect("rate limiter lock");
            let now = Instant::now();
            let rate_f = rate as f64;
            let burst = rate_f / 4.0;
            b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate_f).min(burst);
            b.last = now;
            b.tokens -= bytes as f64;
            if b.tokens < 0.0 {
                Duration::from_secs_f64(-b.tokens / rate_f)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limit_is_shared_between_callers() {
        let limiter = std::sync::Arc::new(RateLimiter::new(400_000));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    l.consume(10_000).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // 200 kB at 400 kB/s: about half a second, never much less.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let l = RateLimiter::new(0);
        let start = Instant::now();
        l.consume(100_000_000).await;
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
