//! A small, fixed set of threads for password hashing.
//!
//! An argon2id check takes ~19 MiB of working memory and tens of
//! milliseconds of CPU. Run on tokio's blocking pool, a burst of logins
//! would start one thread per attempt (hundreds), each holding its 19 MiB at
//! once, and every thread's malloc arena would keep that memory afterwards:
//! a thousand concurrent logins measured several GiB of resident memory.
//! A few dedicated threads bound both: at most `threads` hashes run at once,
//! and only their arenas ever hold hashing memory. Extra attempts wait in
//! the queue, which is also what a login flood should do.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    /// Starts `threads` hashing threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<HashPool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("roost-hash-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not to run it.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panic in one check must not take the thread
                            // (and every later login) with it; the caller
                            // sees its answer channel closed.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            // Every sender is gone: the pool was dropped.
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(HashPool {
            jobs: Mutex::new(tx),
        })
    }

    /// One thread per core, up to four: hashing is CPU-bound, and more
    /// threads would only hold more memory.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4)
    }

    /// Runs `f` on a hashing thread; `None` if it panicked or the pool is
    /// gone.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job).is_ok(),
            Err(poisoned) => poisoned.into_inner().send(job).is_ok(),
        };
        if !sent {
            return None;
        }
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn runs_jobs_with_bounded_concurrency() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let pool = Arc::new(HashPool::new(2).expect("pool"));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let results = rt.block_on(async {
            let mut handles = Vec::new();
            for i in 0..16usize {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                handles.push(tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i * 2
                    })
                    .await
                }));
            }
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("task"));
            }
            out
        });
        assert_eq!(results, (0..16).map(|i| Some(i * 2)).collect::<Vec<_>>());
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "never more than two at once"
        );
    }

    #[test]
    fn a_panicking_job_answers_none_and_the_pool_goes_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let pool = HashPool::new(1).expect("pool");
        rt.block_on(async {
            assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
            assert_eq!(pool.run(|| 7).await, Some(7));
        });
    }
}
