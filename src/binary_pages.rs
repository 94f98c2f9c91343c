//! Handing back the pages of the server's own binary that only start-up (or a finished burst)
//! needed.
//!
//! The kernel maps a binary's code and read-only data in 64 KB windows around each page touched
//! (fault-around). Start-up (configuration, migrations, connecting, compressing the web client)
//! runs code and reads tables that serving never touches again, and their windows stayed
//! resident: on the embedded default 5.9 MB of code and 2.6 MB of read-only data at the peak
//! smoke, 4.6 and 1.7 MB when start-up's pages are handed back (docs/performance.md, "Memory").
//! A few seconds after start-up, and after each quiet spell, the server asks the kernel to
//! reclaim its binary's resident pages (`MADV_PAGEOUT`, Linux ≥ 5.4, `startup::housekeeping`);
//! what serving needs comes back on first use.

/// Asks the kernel to reclaim the resident pages of this process's read-only mappings of its own
/// executable; returns how many bytes were advised. Pages come back from the file when touched
/// again. Elsewhere than on Linux it does nothing.
#[cfg(target_os = "linux")]
pub fn release() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut advised = 0;
    for (start, end) in executable_mappings(&maps, &exe.to_string_lossy()) {
        page_out(start, end - start)?;
        advised += end - start;
    }
    Ok(advised)
}

#[cfg(not(target_os = "linux"))]
pub fn release() -> std::io::Result<usize> {
    Ok(0)
}

/// [`release`], logged (at debug level: it happens at start and after each burst) with `after`
/// saying what just ended.
pub fn release_logged(after: &str) {
    match release() {
        Ok(bytes) => tracing::debug!(after, advised_mb = bytes >> 20, "binary pages handed back"),
        // Linux before 5.4 knows no MADV_PAGEOUT (EINVAL): the pages simply stay.
        Err(err) => tracing::debug!(after, error = %err, "binary pages not handed back"),
    }
}

/// The address ranges of `/proc/self/maps` lines that map `path` without write permission.
fn executable_mappings<'a>(
    maps: &'a str,
    path: &'a str,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    maps.lines().filter_map(move |line| {
        // start-end perms offset dev inode, then spaces and the path (which may hold spaces).
        let mut fields = line.splitn(6, ' ');
        let range = fields.next()?;
        let perms = fields.next()?;
        let mapped = fields.nth(3)?.trim_start();
        if mapped != path || perms.contains('w') {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (end > start).then_some((start, end))
    })
}

#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "madvise has no safe binding")]
fn page_out(start: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: the range is a read-only mapping of this process's own executable, as the kernel
    // lists it in /proc/self/maps. MADV_PAGEOUT changes no contents and unmaps nothing: clean
    // file pages are dropped and read back from the file on the next access; the few pages
    // written at start (relocated read-only data) are private copies, which go to swap if there
    // is any and otherwise stay.
    let result = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_read_only_mappings_of_the_binary_only() {
        let maps = "\
55c903341000-55c9037bd000 r--p 00000000 fd:01 1234                       /opt/party pic/partypic
55c9037bd000-55c904854000 r-xp 0047b000 fd:01 1234                       /opt/party pic/partypic
55c904854000-55c9048bc000 r--p 01511000 fd:01 1234                       /opt/party pic/partypic
55c9048bc000-55c9048c3000 rw-p 01578000 fd:01 1234                       /opt/party pic/partypic
55c9048c3000-55c9048c4000 rw-p 00000000 00:00 0
7f1c2a000000-7f1c2a028000 r--p 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2a028000-7f1c2a19d000 r-xp 00028000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd5e9d6000-7ffd5e9f7000 rw-p 00000000 00:00 0                          [stack]
";
        let found: Vec<_> = executable_mappings(maps, "/opt/party pic/partypic").collect();
        assert_eq!(
            found,
            vec![
                (0x55c903341000, 0x55c9037bd000),
                (0x55c9037bd000, 0x55c904854000),
                (0x55c904854000, 0x55c9048bc000),
            ]
        );
        assert_eq!(executable_mappings(maps, "/opt/party").count(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_binary_pages_leave_and_come_back_when_used() {
        fn resident_file_kib() -> u64 {
            std::fs::read_to_string("/proc/self/status")
                .expect("/proc/self/status")
                .lines()
                .find_map(|line| line.strip_prefix("RssFile:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("RssFile in /proc/self/status")
        }
        let before = resident_file_kib();
        let advised = release().expect("madvise(MADV_PAGEOUT) on the test binary");
        let after = resident_file_kib();
        assert!(advised > 0, "no mapping of the test binary found");
        // Other tests run meanwhile and fault their code back in, but far less than this.
        assert!(
            after + 1024 < before,
            "RssFile {before} kB before, {after} kB after"
        );
        // Code that runs after the release still works: it is read back from the file.
        assert_eq!(format!("{:?}", Some(vec![1, 2])), "Some([1, 2])");
    }
}
