//! Handing the memory the allocator keeps back to the system once a burst of requests is over.
//!
//! glibc returns freed memory only from the top of an arena (and only past a threshold that grows
//! with the largest block freed), so after a load the pages freed below a live allocation stay
//! resident: measured, ~8 MB of the 27 MB heap after the k6 peak smoke were free but kept
//! (docs/performance.md, "Memory"). `malloc_trim(0)` gives back the free pages in every arena's
//! bins and the top of the main arena (not the top of the others); live allocations are untouched.

/// Returns the allocator's free pages to the system; whether glibc gave anything back.
/// Elsewhere (musl, macOS) it does nothing: those allocators return memory themselves.
/// It walks and briefly locks each arena, so callers run it off the async workers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim has no safe binding")]
pub fn return_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers and works under glibc's own arena locks.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_free_memory() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn resident_anonymous_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }

    #[test]
    fn freed_pages_below_a_live_block_go_back_to_the_system() {
        // 64 MB in small blocks (below any mmap threshold), then one more that stays: the free
        // space lies under it, where glibc's own trimming at free() never reaches.
        let mut blocks: Vec<Vec<u8>> = (0..16_384).map(|i| vec![i as u8; 4_000]).collect();
        let pinned = vec![1u8; 4_000];
        blocks.clear();
        blocks.shrink_to_fit();
        let before = resident_anonymous_kib();
        assert!(return_free_memory(), "glibc reported nothing to give back");
        let after = resident_anonymous_kib();
        assert!(
            before.saturating_sub(after) > 32 * 1024,
            "RssAnon {before} kB before, {after} kB after the trim"
        );
        assert_eq!(pinned[3_999], 1);
    }
}
