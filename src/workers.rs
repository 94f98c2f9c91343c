//! CPU-heavy work (argon2 password hashes, image decoding) runs on a few dedicated threads at a
//! lower scheduling priority (a higher nice value). Under load the kernel gives the async workers
//! and the database the CPU first, so reads stay fast while registrations queue; when nothing else
//! runs these threads still get every cycle. A fixed set of threads also bounds memory: each keeps
//! one malloc arena warm, where a growing blocking pool would leave a 19 MiB argon2 buffer in the
//! arena of every thread that ever hashed.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, mpsc},
};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
#[error("the {0} worker pool lost the job (the work panicked)")]
pub struct JobLost(&'static str);

#[derive(Clone)]
pub struct WorkerPool {
    name: &'static str,
    jobs: mpsc::Sender<Job>,
}

impl WorkerPool {
    /// Starts `threads` threads at nice value `nice` (Linux; elsewhere the priority is left
    /// alone). They end when the last clone of the pool is dropped.
    pub fn new(name: &'static str, threads: usize, nice: i32) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    lower_priority(name, nice);
                    loop {
                        // One thread waits in recv() while holding the lock, the others wait for it.
                        let job = match queue.lock().map(|receiver| receiver.recv()) {
                            Ok(Ok(job)) => job,
                            _ => return,
                        };
                        job();
                    }
                })?;
        }
        Ok(Self { name, jobs })
    }

    /// Runs `work` on the pool. Work whose caller has gone away (a cancelled request) is skipped.
    pub async fn run<T, F>(&self, work: F) -> Result<T, JobLost>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            if let Ok(value) = catch_unwind(AssertUnwindSafe(work)) {
                let _ = done.send(value);
            }
        });
        self.jobs.send(job).map_err(|_| JobLost(self.name))?;
        result.await.map_err(|_| JobLost(self.name))
    }
}

#[cfg(target_os = "linux")]
fn lower_priority(name: &str, nice: i32) {
    use rustix::{process, thread};
    // On Linux the priority of a thread id is that thread's alone.
    let tid = thread::gettid();
    let current = process::getpriority_process(Some(tid)).unwrap_or(0);
    if nice <= current {
        return; // raising priority needs privileges; never lower what the process was given
    }
    if let Err(err) = process::setpriority_process(Some(tid), nice) {
        tracing::warn!(pool = name, error = %err, "cannot lower worker thread priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_name: &str, _nice: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_pool_and_a_panic_is_an_error() {
        let pool = WorkerPool::new("test", 2, 5).expect("pool");
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("result");
        assert!(name.is_some_and(|n| n.starts_with("test-")));
        assert!(pool.run(|| panic!("boom")).await.is_err());
        // The thread that panicked is still there.
        assert_eq!(pool.run(|| 2 + 2).await.expect("result"), 4);
        assert_eq!(pool.run(|| 3).await.expect("result"), 3);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn worker_threads_run_at_the_lower_priority() {
        let pool = WorkerPool::new("nice", 1, 7).expect("pool");
        let process_nice = rustix::process::getpriority_process(None).expect("nice");
        let worker_nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("result")
            .expect("nice");
        assert_eq!(worker_nice, process_nice.max(7));
    }
}
