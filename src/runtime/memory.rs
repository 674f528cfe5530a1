//! Giving back the code pages start-up touched.
//!
//! Start-up runs a lot of code exactly once: flag parsing, YAML, every
//! component factory, TLS roots, the listeners. The kernel maps file-backed
//! code in 64 KiB chunks around each page touched (fault-around), so a
//! freshly started sidecar keeps several MB of the binary's and glibc's pages
//! in its page tables (about 6 of its 8 MB RSS), most of which it never runs
//! again. At start-up's [`Milestone`]s (every worker serving; the app
//! initialized), [`StartupPages::reached`] unmaps them:
//! `MADV_DONTNEED` on a private, read-only file mapping only drops our
//! page-table entries; the pages stay in the page cache, and the code the
//! sidecar keeps running faults back in (minor faults, no I/O). RSS then
//! counts what the request path uses: about 6 MB under 1000 req/s of
//! invocation instead of 9–10 MB (`loadtest/run.sh`). The file pages stay in
//! the page cache, shared and reclaimable, as they were before.

// The one place in the crate that needs `unsafe`: a raw `madvise` on
// mappings we did not create. See the SAFETY note in `release`.
#![allow(unsafe_code)]

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

/// The mappings whose pages may be dropped, from `/proc/self/smaps` text:
/// private, not writable, backed by the executable `exe` or a shared library,
/// and holding no private (anonymous) copies, so that their content is
/// exactly the file's. Data files some library mapped are left alone.
fn droppable(smaps: &str, exe: &Path) -> Vec<Range<usize>> {
    let exe = exe.to_str().unwrap_or_default();
    let mut out = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line, exe) {
            current = range;
        } else if let Some(kb) = line.strip_prefix("Anonymous:") {
            let clean = kb.trim().trim_end_matches("kB").trim() == "0";
            if let (Some(range), true) = (current.take(), clean) {
                out.push(range);
            }
        }
    }
    out
}

/// For a mapping header line (`start-end perms offset dev inode path`):
/// `Some(Some(range))` when the mapping is a candidate, `Some(None)` when it
/// is a mapping but not one, `None` for the other (`Key: value`) lines.
fn mapping_header(line: &str, exe: &str) -> Option<Option<Range<usize>>> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let path = fields.nth(3).unwrap_or("");
    let private_read_only = perms.len() == 4 && perms.ends_with('p') && !perms.contains('w');
    let code_object = !path.is_empty() && (path == exe || is_shared_library(path));
    Some((private_read_only && code_object && start < end).then_some(start..end))
}

fn is_shared_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

/// Start-up's milestones, after each of which the code pages it touched are
/// released (once per milestone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Milestone {
    /// Every worker serves and the components are loaded.
    OutboundReady,
    /// The app answered: its subscriptions are known and delivery started.
    AppInitialized,
}

impl Milestone {
    fn name(self) -> &'static str {
        match self {
            Milestone::OutboundReady => "outbound ready",
            Milestone::AppInitialized => "app initialized",
        }
    }
}

/// Which milestones have released their pages (`Send + Sync`).
#[derive(Debug)]
pub struct StartupPages {
    enabled: bool,
    released: AtomicU8,
}

impl StartupPages {
    /// Releases at each milestone when `enabled` (only the `daprd` binary
    /// enables it: it acts on the whole process).
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            released: AtomicU8::new(0),
        }
    }

    /// `milestone` is reached: release the pages touched so far, the first
    /// time only.
    pub fn reached(&self, milestone: Milestone) {
        let bit = 1u8 << milestone as u8;
        if !self.enabled || self.released.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return;
        }
        if let Some((before, after)) = release_startup_pages() {
            tracing::debug!(
                "start-up code pages released ({}): RSS {before} KiB -> {after} KiB",
                milestone.name()
            );
        }
    }
}

/// Unmaps the start-up pages of the binary and its shared libraries; returns
/// the RSS before and after (KiB), for the log.
fn release_startup_pages() -> Option<(u64, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let before = rss_kib()?;
    for range in droppable(&smaps, &exe) {
        release(range);
    }
    Some((before, rss_kib()?))
}

fn release(range: Range<usize>) {
    // SAFETY: `range` is a whole private, read-only mapping of the executable
    // or of a shared library with no anonymous (copied-on-write) pages, so
    // every page in it holds exactly the file's bytes, and it cannot gain a
    // private copy later (not writable). MADV_DONTNEED on such a mapping
    // removes the page-table entries only; the next access to any address in
    // it faults in the same bytes from the page cache. No Rust object is
    // invalidated: code and read-only statics read back identical. The file
    // cannot change under us: the running executable is write-protected by
    // the kernel (ETXTBSY) and libraries are replaced by rename, never
    // rewritten in place. Libraries are never unloaded in this process (we
    // do not dlopen; glibc keeps NSS modules for the process's life), so the
    // range still names the same mapping between reading smaps and here.
    let rc = unsafe {
        libc::madvise(
            range.start as *mut libc::c_void,
            range.end - range.start,
            libc::MADV_DONTNEED,
        )
    };
    if rc != 0 {
        // Locked (mlock) mappings refuse; nothing else to do about it.
        tracing::debug!(
            "madvise({:#x}..{:#x}): {}",
            range.start,
            range.end,
            std::io::Error::last_os_error()
        );
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::droppable;
    use std::path::Path;

    const SMAPS: &str = "\
55cbf0328000-55cbf0558000 r--p 00000000 fe:00 5309278                    /opt/daprd
Rss:                1120 kB
Anonymous:             0 kB
55cbf0558000-55cbf0cb5000 r-xp 0022f000 fe:00 5309278                    /opt/daprd
Rss:                3348 kB
Anonymous:             0 kB
55cbf0cb5000-55cbf0d01000 r--p 0098b000 fe:00 5309278                    /opt/daprd
Rss:                 304 kB
Anonymous:           304 kB
55cbf0d01000-55cbf0d09000 rw-p 009d6000 fe:00 5309278                    /opt/daprd
Anonymous:            32 kB
55cc045da000-55cc04613000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           112 kB
7f458455e000-7f4584568000 rw-s 00000000 00:10 38691                      anon_inode:[io_uring]
Anonymous:             0 kB
7f4584fe8000-7f458500e000 r--p 00000000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f458500e000-7f4585164000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f45851b7000-7f45851bb000 r--p 001cf000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:            16 kB
7f4590000000-7f4590400000 r--p 00000000 fe:00 777                        /usr/lib/locale/locale-archive
Anonymous:             0 kB
7f4591000000-7f4591001000 r--s 00000000 fe:00 778                        /usr/lib/x86_64-linux-gnu/libshared.so
Anonymous:             0 kB
7ffd1c5f0000-7ffd1c5f2000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_clean_read_only_private_code_objects() {
        let got = droppable(SMAPS, Path::new("/opt/daprd"));
        assert_eq!(
            got,
            vec![
                0x55cbf0328000..0x55cbf0558000, // the binary's read-only data
                0x55cbf0558000..0x55cbf0cb5000, // its code
                0x7f4584fe8000..0x7f458500e000, // libc's read-only data
                0x7f458500e000..0x7f4585164000, // libc's code
            ],
            "relocated (anonymous) RELRO pages, writable, shared, anonymous, \
             data-file and vdso mappings are kept"
        );
    }

    #[test]
    fn another_binary_is_not_ours() {
        let got = droppable(SMAPS, Path::new("/usr/bin/other"));
        assert_eq!(got.len(), 2, "only libc's two clean mappings: {got:x?}");
    }

    #[test]
    fn garbage_yields_nothing() {
        assert!(droppable("zz-yy r-xp\nAnonymous: 0 kB\n\n-\n", Path::new("/x")).is_empty());
    }
}
