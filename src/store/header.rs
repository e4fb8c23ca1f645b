//! What a database file is, decided from its bytes before SQLite opens it.
//!
//! SQLite creates `-wal` and `-shm` files beside any file it opens in WAL mode, and rolls back
//! a hot journal it finds, so a file we are going to refuse must be judged without SQLite. The
//! facts that matter — application id, schema version, whether any table exists — all live on
//! page 1. Page 1 is read from the newest committed frame of the `-wal` file when there is one
//! (a change that was never checkpointed, such as a newer sa's migration, lives only there),
//! else from the main file. Each page-1 image is one consistent snapshot, so a file read while
//! another process writes it is seen as it was before or after a commit, never half.
//!
//! Formats: <https://www.sqlite.org/fileformat2.html> (database header, b-tree page header, WAL
//! and rollback journal headers).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::APPLICATION_ID;
use crate::error::{Error, Result};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
const WAL_MAGIC_LE: u32 = 0x377f_0682;
const WAL_MAGIC_BE: u32 = 0x377f_0683;
const WAL_HEADER: usize = 32;
/// The WAL format version SQLite writes and accepts.
const WAL_VERSION: u32 = 3_007_000;
/// The wal-index (`-shm`): two copies of a 48-byte header and 40 bytes of checkpoint
/// information, then the page numbers of the WAL frames, 4062 in the first 32 KiB block and
/// 4096 in each block after.
const WAL_INDEX_HEADER: usize = 136;
const WAL_INDEX_BLOCK: usize = 32 * 1024;
const FRAMES_FIRST_BLOCK: u32 = 4096 - (WAL_INDEX_HEADER / 4) as u32;
const FRAMES_PER_BLOCK: u32 = 4096;
const WAL_FRAME_HEADER: usize = 24;

/// What is at a database path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FileState {
    Missing,
    /// Empty, or SQLite without an application id, a schema version or a table: ours to set
    /// up. This includes a first use that was killed halfway: its hot journal began on an
    /// empty file, so rolling it back (SQLite does, on the first read-write open) leaves it
    /// blank again.
    Blank,
    Ours {
        version: i64,
    },
    /// Not ours, or ours and damaged: refused with this error, untouched.
    Refused(RefusalKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RefusalKind {
    /// Not an sa database: the reason.
    Foreign(String),
    /// An sa database that cannot be used as it is: the reason.
    Damaged(String),
}

impl RefusalKind {
    pub(super) fn into_error(self, path: &Path) -> Error {
        match self {
            RefusalKind::Foreign(why) => Error::ForeignDatabase {
                path: path.to_path_buf(),
                why,
            },
            RefusalKind::Damaged(why) => Error::Damaged {
                path: path.to_path_buf(),
                why,
            },
        }
    }
}

/// The facts read off one page-1 image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageOne {
    application_id: u32,
    version: u32,
    has_tables: bool,
    /// The database size in pages as the header records it, when the header says the
    /// number is valid.
    pages: Option<u32>,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The page size a database header declares, if it is a valid one.
fn page_size(header: &[u8]) -> Option<usize> {
    let raw = u16::from_be_bytes([header[16], header[17]]);
    let size = if raw == 1 { 65_536 } else { usize::from(raw) };
    (size.is_power_of_two() && (512..=65_536).contains(&size)).then_some(size)
}

/// Reads page 1's facts. `page` holds at least the 100-byte header; the b-tree header of
/// `sqlite_master` follows it on page 1.
fn read_page_one(page: &[u8]) -> PageOne {
    let change_counter = be32(page, 24);
    let valid_for = be32(page, 92);
    let (kind, cells) = match page.get(100..105) {
        Some(btree) => (btree[0], u16::from_be_bytes([btree[3], btree[4]])),
        None => (0x0d, 0),
    };
    PageOne {
        application_id: be32(page, 68),
        version: be32(page, 60),
        // An interior page (0x05) means sqlite_master spans several pages: many tables.
        has_tables: kind == 0x05 || cells > 0,
        pages: (change_counter == valid_for && be32(page, 28) > 0).then(|| be32(page, 28)),
    }
}

/// `path` with `suffix` appended: where SQLite keeps `-wal`, `-shm` and `-journal`.
pub(crate) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads up to `len` bytes from the start of `file`; fewer only at its end.
fn read_prefix(file: &mut File, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The rollback journal beside a database, if it looks hot (a transaction that never
/// finished): the database size in pages when that transaction began.
fn hot_journal_start_size(path: &Path) -> Result<Option<u32>> {
    let journal = sidecar(path, "-journal");
    let mut file = match File::open(&journal) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(Error::io(
                format!("cannot read `{}`", journal.display()),
                err,
            ));
        }
    };
    let header = read_prefix(&mut file, 28)
        .map_err(|e| Error::io(format!("cannot read `{}`", journal.display()), e))?;
    // A zeroed or short header is a finished (persisted or truncated) journal, not hot.
    if header.len() < 28 || header[..8] != JOURNAL_MAGIC {
        return Ok(None);
    }
    Ok(Some(be32(&header, 16)))
}

/// The newest committed page 1 in the `-wal` file beside `path`, if any valid frame holds
/// one. Frames count only while their salts match the WAL header and their cumulative
/// checksums hold, and only up to the last commit frame, as SQLite's own recovery decides.
fn wal_page_one(path: &Path) -> Result<Option<Vec<u8>>> {
    wal_page_one_with(path, true)
}

/// [`wal_page_one`], with the wal-index shortcut or (for tests) without it.
fn wal_page_one_with(path: &Path, use_index: bool) -> Result<Option<Vec<u8>>> {
    let wal = sidecar(path, "-wal");
    let failed = |e: std::io::Error| Error::io(format!("cannot read `{}`", wal.display()), e);
    let file = match File::open(&wal) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(failed(err)),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut header = [0u8; WAL_HEADER];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(failed(err)),
    }
    let big_endian = match be32(&header, 0) {
        WAL_MAGIC_BE => true,
        WAL_MAGIC_LE => false,
        _ => return Ok(None),
    };
    let page_size = be32(&header, 8) as usize;
    if be32(&header, 4) != WAL_VERSION
        || !page_size.is_power_of_two()
        || !(512..=65_536).contains(&page_size)
    {
        return Ok(None);
    }
    let mut sum = WalChecksum::new(big_endian);
    sum.add(&header[..24]);
    if sum.value() != (be32(&header, 24), be32(&header, 28)) {
        return Ok(None);
    }
    if use_index
        && let Some(found) = page_one_by_wal_index(path, reader.get_ref(), &header, page_size)?
    {
        return Ok(found);
    }
    // Every frame, in order: valid while its salts match and the running checksum holds,
    // committed up to the last commit frame, as SQLite's own recovery decides.
    let salts = (be32(&header, 16), be32(&header, 20));
    let mut frame = vec![0u8; WAL_FRAME_HEADER + page_size];
    let mut pending: Option<Vec<u8>> = None;
    let mut committed: Option<Vec<u8>> = None;
    loop {
        match reader.read_exact(&mut frame) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => break,
            Err(err) => return Err(failed(err)),
        }
        if (be32(&frame, 8), be32(&frame, 12)) != salts || be32(&frame, 0) == 0 {
            break;
        }
        sum.add(&frame[..8]);
        sum.add(&frame[WAL_FRAME_HEADER..]);
        if sum.value() != (be32(&frame, 16), be32(&frame, 20)) {
            break;
        }
        if be32(&frame, 0) == 1 {
            pending = Some(frame[WAL_FRAME_HEADER..].to_vec());
        }
        if be32(&frame, 4) != 0 && pending.is_some() {
            committed = pending.take();
        }
    }
    Ok(committed)
}

/// Page 1's newest committed frame, found through the wal-index instead of reading the whole
/// WAL: `Some(Some(page))`, or `Some(None)` when no committed frame holds page 1. `None` when
/// the index cannot be trusted (missing, being rewritten, or not about this WAL), and the
/// WAL must be read. SQLite trusts a valid index the same way; reading 4 bytes a frame
/// instead of a page a frame is what keeps an open cheap while a long reader holds the WAL.
///
/// `wal` is the `-wal` file already open: opened again by name, it could be gone, since the
/// last connection to close deletes it after its checkpoint.
fn page_one_by_wal_index(
    db: &Path,
    wal: &File,
    wal_header: &[u8; WAL_HEADER],
    page_size: usize,
) -> Result<Option<Option<Vec<u8>>>> {
    use std::os::unix::fs::FileExt;
    let shm_path = sidecar(db, "-shm");
    let Ok(shm) = File::open(&shm_path) else {
        return Ok(None);
    };
    let mut index = [0u8; WAL_INDEX_HEADER];
    if shm.read_exact_at(&mut index, 0).is_err() {
        return Ok(None);
    }
    let (first, second) = (&index[..48], &index[48..96]);
    let native =
        |at: usize| u32::from_ne_bytes([first[at], first[at + 1], first[at + 2], first[at + 3]]);
    let mut sum = WalChecksum::new(cfg!(target_endian = "big"));
    sum.add(&first[..40]);
    let valid = first == second
        && native(0) == WAL_VERSION
        && first[12] == 1
        && sum.value() == (native(40), native(44))
        && first[32..40] == wal_header[16..24];
    if !valid {
        return Ok(None);
    }
    let committed = native(16);
    // Newest first: the page number of each committed frame, 4 bytes a frame.
    let mut frame = committed;
    while frame > 0 {
        let (block, slot) = if frame <= FRAMES_FIRST_BLOCK {
            (0, WAL_INDEX_HEADER / 4 + (frame - 1) as usize)
        } else {
            let past = frame - FRAMES_FIRST_BLOCK - 1;
            (
                1 + past / FRAMES_PER_BLOCK,
                (past % FRAMES_PER_BLOCK) as usize,
            )
        };
        let mut pgno = [0u8; 4];
        let at = u64::from(block) * WAL_INDEX_BLOCK as u64 + slot as u64 * 4;
        if shm.read_exact_at(&mut pgno, at).is_err() {
            return Ok(None);
        }
        if u32::from_ne_bytes(pgno) == 1 {
            break;
        }
        frame -= 1;
    }
    if frame == 0 {
        return Ok(Some(None));
    }
    let mut found = vec![0u8; WAL_FRAME_HEADER + page_size];
    let offset = WAL_HEADER as u64 + u64::from(frame - 1) * (WAL_FRAME_HEADER + page_size) as u64;
    if wal.read_exact_at(&mut found, offset).is_err()
        || be32(&found, 0) != 1
        || found[8..16] != wal_header[16..24]
    {
        return Ok(None);
    }
    Ok(Some(Some(found.split_off(WAL_FRAME_HEADER))))
}

/// SQLite's WAL checksum: pairs of 32-bit words, in the byte order the WAL magic names.
struct WalChecksum {
    big_endian: bool,
    s0: u32,
    s1: u32,
}

impl WalChecksum {
    fn new(big_endian: bool) -> Self {
        WalChecksum {
            big_endian,
            s0: 0,
            s1: 0,
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        let word = |chunk: &[u8]| {
            let raw = [chunk[0], chunk[1], chunk[2], chunk[3]];
            if self.big_endian {
                u32::from_be_bytes(raw)
            } else {
                u32::from_le_bytes(raw)
            }
        };
        for pair in bytes.chunks_exact(8) {
            self.s0 = self.s0.wrapping_add(word(&pair[..4])).wrapping_add(self.s1);
            self.s1 = self.s1.wrapping_add(word(&pair[4..])).wrapping_add(self.s0);
        }
    }

    fn value(&self) -> (u32, u32) {
        (self.s0, self.s1)
    }
}

/// Decides what the file at `path` is without letting SQLite touch it.
///
/// A refusal is only given once it holds still: the bytes of one page cannot be read in one
/// atomic step against another sa process checkpointing its first use, so a refused verdict
/// is looked at again, twice, a moment apart. A file that really is foreign or damaged says
/// the same each time; the cost falls only on files refused anyway.
pub(super) fn inspect(path: &Path) -> Result<FileState> {
    let mut state = inspect_once(path)?;
    for _ in 0..2 {
        if !matches!(state, FileState::Refused(_)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(15));
        state = inspect_once(path)?;
    }
    Ok(state)
}

fn inspect_once(path: &Path) -> Result<FileState> {
    let foreign = |why: &str| Ok(FileState::Refused(RefusalKind::Foreign(why.to_string())));
    let damaged = |why: String| Ok(FileState::Refused(RefusalKind::Damaged(why)));
    // A device, FIFO or directory is never a database: opening a FIFO would hang, and
    // adopting /dev/null would chmod it. (Symlinks are followed, as SQLite follows them.)
    let len = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return foreign("it is not a regular file"),
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(err) => return Err(Error::io(format!("cannot open `{}`", path.display()), err)),
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(err) => return Err(Error::io(format!("cannot open `{}`", path.display()), err)),
    };
    let read_failed = |e| Error::io(format!("cannot read `{}`", path.display()), e);
    let head = read_prefix(&mut file, 100).map_err(read_failed)?;
    if head.is_empty() {
        return Ok(FileState::Blank);
    }
    if !head.starts_with(SQLITE_MAGIC) {
        return foreign("it is not a SQLite file");
    }
    let ours_by_header = head.len() >= 72 && be32(&head, 68) == APPLICATION_ID as u32;
    if head.len() < 100 {
        return if ours_by_header {
            damaged(format!(
                "it is cut short: {} bytes, not even a whole header",
                head.len()
            ))
        } else {
            foreign("it is a truncated SQLite header")
        };
    }
    let Some(page_size) = page_size(&head) else {
        return if ours_by_header {
            damaged("its header declares an impossible page size".into())
        } else {
            foreign("its SQLite header declares an impossible page size")
        };
    };

    // SQLite keeps `-wal`, `-shm` and `-journal` beside the file a symlink leads to.
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let journal_start = hot_journal_start_size(&real)?;
    if journal_start == Some(0) {
        // A transaction that began on an empty file never finished: whatever it wrote is
        // rolled back to nothing. (Old sa versions left this when killed during first use.)
        return Ok(FileState::Blank);
    }
    let from_wal = wal_page_one(&real)?;
    let page = match &from_wal {
        Some(page) => read_page_one(page),
        None => {
            // Page 1 read again, whole, in one read: the header read above may be older than
            // the WAL just looked at. Glued to a later b-tree header, a racer's first use
            // (checkpointed in between) would look like a foreign file with tables.
            use std::os::unix::fs::FileExt;
            let mut main = vec![0u8; page_size];
            let read = file.read_at(&mut main, 0).map_err(read_failed)?;
            main.truncate(read);
            read_page_one(if main.len() < 100 { &head } else { &main })
        }
    };
    if journal_start.is_some() && page.application_id != APPLICATION_ID as u32 {
        return foreign(
            "it has an unfinished transaction (a hot `-journal` file) of another program",
        );
    }
    if page.application_id == APPLICATION_ID as u32 && from_wal.is_none() && journal_start.is_none()
    {
        // A WAL or journal may hold pages the main file lacks; only a file standing alone
        // must hold every page itself.
        if len % page_size as u64 != 0 {
            return damaged(format!(
                "its size, {len} bytes, is not a whole number of {page_size}-byte pages: it \
                 was cut short, or something was written past its end"
            ));
        }
        if let Some(pages) = page.pages
            && u64::from(pages) * page_size as u64 > len
        {
            return damaged(format!(
                "it was cut short: its header counts {pages} pages, the file holds {}",
                len / page_size as u64
            ));
        }
    }
    Ok(judge(
        page.application_id,
        i64::from(page.version),
        page.has_tables,
    ))
}

/// What a database's marks make it: the one rule, for marks read from bytes here and read
/// through SQLite by `store::classify`, so the two can never disagree.
pub(super) fn judge(application_id: u32, version: i64, has_tables: bool) -> FileState {
    match application_id {
        id if id == APPLICATION_ID as u32 => {
            if version == 0 && has_tables {
                FileState::Refused(RefusalKind::Damaged(
                    "it is marked as an sa database but has tables and no schema version".into(),
                ))
            } else {
                FileState::Ours { version }
            }
        }
        0 if version == 0 && !has_tables => FileState::Blank,
        0 => FileState::Refused(RefusalKind::Foreign(
            "it is another program's SQLite database".into(),
        )),
        id => FileState::Refused(RefusalKind::Foreign(format!(
            "it is a SQLite database of application id {id:#x}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn wal_db(dir: &Path) -> (PathBuf, Connection) {
        let path = dir.join("w.db");
        let conn = Connection::open(&path).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        (path, conn)
    }

    #[test]
    fn the_newest_committed_page_one_is_read_from_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_db(dir.path());
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
        // Everything is still only in the -wal file: the main file says "blank".
        let page = wal_page_one(&path).unwrap().unwrap();
        let facts = read_page_one(&page);
        assert_eq!(facts.application_id, APPLICATION_ID as u32);
        assert_eq!(facts.version, 5);
        assert!(facts.has_tables);
        assert_eq!(inspect(&path).unwrap(), FileState::Ours { version: 5 });
        drop(conn);
    }

    #[test]
    fn the_wal_index_reads_the_wal_already_open_even_once_it_is_deleted() {
        // The last connection to close deletes the -wal after its checkpoint: an inspection
        // that had opened it must go on reading what it opened, not fail on its name.
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_db(dir.path());
        conn.execute_batch("CREATE TABLE t (x);").unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        let mut wal = File::open(sidecar(&path, "-wal")).unwrap();
        let mut header = [0u8; WAL_HEADER];
        wal.read_exact(&mut header).unwrap();
        let page_size = be32(&header, 8) as usize;
        std::fs::remove_file(sidecar(&path, "-wal")).unwrap();
        let page = page_one_by_wal_index(&path, &wal, &header, page_size)
            .unwrap()
            .expect("the index is valid")
            .expect("page 1 is in the WAL");
        assert_eq!(read_page_one(&page).version, 7);
        drop(conn);
    }

    #[test]
    fn the_wal_index_finds_the_same_page_one_as_reading_the_whole_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        // Small pages, so that a few thousand frames cross the index's first 4062-frame
        // block into the next.
        conn.pragma_update(None, "page_size", 512).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x);").unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        for i in 0..2500 {
            conn.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            if i % 1000 == 0 {
                conn.pragma_update(None, "user_version", i / 1000 + 1)
                    .unwrap();
            }
        }
        // Then transactions that leave page 1 alone, so the newest page 1 is far back.
        for i in 0..2500 {
            conn.execute("UPDATE t SET x = x + 1 WHERE rowid = ?1", [1 + i % 7])
                .unwrap();
        }
        let wal_frames = (std::fs::metadata(sidecar(&path, "-wal")).unwrap().len() - 32) / 536;
        assert!(
            wal_frames > u64::from(FRAMES_FIRST_BLOCK),
            "{wal_frames} frames"
        );
        let by_index = wal_page_one_with(&path, true).unwrap().unwrap();
        let by_scan = wal_page_one_with(&path, false).unwrap().unwrap();
        assert!(by_index == by_scan, "the two ways disagree");
        assert_eq!(read_page_one(&by_index).version, 3);
        drop(conn);
    }

    #[test]
    fn frames_of_a_transaction_without_its_commit_frame_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_db(dir.path());
        conn.pragma_update(None, "user_version", 1).unwrap();
        let before = std::fs::read(sidecar(&path, "-wal")).unwrap();
        // One transaction of many frames: page 1 changes, then more pages, then the commit.
        conn.execute_batch(
            "BEGIN; PRAGMA user_version = 9; CREATE TABLE t (x);
             INSERT INTO t SELECT zeroblob(3000) FROM (WITH RECURSIVE n(i) AS
               (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT i FROM n);
             COMMIT;",
        )
        .unwrap();
        let after = std::fs::read(sidecar(&path, "-wal")).unwrap();
        drop(conn);
        let frame = 24 + 4096;
        assert!(after.len() > before.len() + 3 * frame);
        let uncommitted = &after[before.len()..after.len() - frame];
        assert!(
            uncommitted.chunks(frame).any(|f| be32(f, 0) == 1),
            "page 1 is among the frames left without their commit"
        );
        // Everything but the commit frame: intact frames (checksums hold), never committed.
        let copy = dir.path().join("copy.db");
        std::fs::write(&copy, b"").unwrap();
        std::fs::write(sidecar(&copy, "-wal"), &after[..after.len() - frame]).unwrap();
        let page = wal_page_one_with(&copy, false).unwrap().unwrap();
        assert_eq!(read_page_one(&page).version, 1);
    }

    #[test]
    fn a_torn_commit_frame_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_db(dir.path());
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let wal = sidecar(&path, "-wal");
        let committed = std::fs::read(&wal).unwrap();
        conn.pragma_update(None, "user_version", 9).unwrap();
        let later = std::fs::read(&wal).unwrap();
        assert!(later.len() > committed.len());
        // The second commit's frame, torn: its checksum no longer holds.
        let mut torn = later.clone();
        let last = torn.len() - 1;
        torn[last] ^= 0xff;
        drop(conn);
        let copy = dir.path().join("copy.db");
        std::fs::write(&copy, b"").unwrap();
        std::fs::write(sidecar(&copy, "-wal"), &torn).unwrap();
        let page = wal_page_one(&copy).unwrap().unwrap();
        assert_eq!(read_page_one(&page).version, 1);
        std::fs::write(sidecar(&copy, "-wal"), &later).unwrap();
        let page = wal_page_one(&copy).unwrap().unwrap();
        assert_eq!(read_page_one(&page).version, 9);
    }

    #[test]
    fn files_are_classified_from_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert_eq!(inspect(&at("empty", b"")).unwrap(), FileState::Blank);
        assert!(matches!(
            inspect(&at("text", b"hello")).unwrap(),
            FileState::Refused(RefusalKind::Foreign(_))
        ));
        assert_eq!(
            inspect(&dir.path().join("missing")).unwrap(),
            FileState::Missing
        );

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT);")
            .unwrap();
        drop(conn);
        assert!(matches!(
            inspect(&other).unwrap(),
            FileState::Refused(RefusalKind::Foreign(_))
        ));

        let ours = dir.path().join("ours.db");
        let conn = Connection::open(&ours).unwrap();
        conn.execute_batch("CREATE TABLE t (x);").unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for i in 0..200 {
            conn.execute("INSERT INTO t VALUES (?1)", [format!("{i:0>400}")])
                .unwrap();
        }
        drop(conn);
        assert_eq!(inspect(&ours).unwrap(), FileState::Ours { version: 1 });
        let bytes = std::fs::read(&ours).unwrap();
        let cut = at("cut.db", &bytes[..bytes.len() - 100]);
        assert!(matches!(
            inspect(&cut).unwrap(),
            FileState::Refused(RefusalKind::Damaged(_))
        ));
        let short = at("short.db", &bytes[..bytes.len() - 4096]);
        assert!(matches!(
            inspect(&short).unwrap(),
            FileState::Refused(RefusalKind::Damaged(_))
        ));
    }

    #[test]
    fn a_hot_journal_from_an_empty_start_means_blank() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.db");
        let mut page = vec![0u8; 4096];
        page[..16].copy_from_slice(SQLITE_MAGIC);
        page[16..18].copy_from_slice(&4096u16.to_be_bytes());
        std::fs::write(&path, &page).unwrap();
        let mut journal = JOURNAL_MAGIC.to_vec();
        journal.extend([0u8; 20]); // nRec, nonce, start size 0, sector and page size
        std::fs::write(sidecar(&path, "-journal"), &journal).unwrap();
        assert_eq!(inspect(&path).unwrap(), FileState::Blank);
        // Begun on a non-empty file of someone else's: refused.
        journal[16..20].copy_from_slice(&3u32.to_be_bytes());
        page[100] = 0x0d;
        page[103..105].copy_from_slice(&1u16.to_be_bytes());
        std::fs::write(&path, &page).unwrap();
        std::fs::write(sidecar(&path, "-journal"), &journal).unwrap();
        assert!(matches!(
            inspect(&path).unwrap(),
            FileState::Refused(RefusalKind::Foreign(_))
        ));
    }
}
