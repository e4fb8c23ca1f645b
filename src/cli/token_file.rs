//! Token files: where `--output-file` (and every later feature that writes a token to a file)
//! puts a freshly minted token, so that a service re-reading the file picks up a rotation
//! without a restart.
//!
//! Everything that can be refused is refused by [`TokenFile::prepare`], before the token is
//! minted: the database and its `-wal`/`-shm`/`-journal` files, the config file, anything that
//! is not a regular file once symlinks are resolved (a device, FIFO, socket or directory, or a
//! symlink to nothing), and anything inside `/dev`, `/proc` or `/sys`. A symlink to a regular
//! file is followed, and the file it leads to is replaced in its own directory, so
//! Kubernetes-style `..data` links keep working.
//!
//! The new file is written beside the one it replaces and renamed over it after an fsync, so a
//! reader sees the old token or the new one, never a partial one. It takes the replaced file's
//! owner, group and mode (0600 for a new file). The secret never lingers in a temporary file:
//! where the file system allows `O_TMPFILE`, the file has no name until it is complete; where
//! it does not, the named `.sa-token-*` file is removed when the process ends by SIGINT,
//! SIGTERM or SIGHUP, and a SIGKILL's leftovers older than a minute are removed by the next
//! write beside them. (`SA_TOKEN_FILE_NO_TMPFILE=1` forces the named file, so tests can reach
//! that path on any file system.)

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::store::sidecar;

/// Files `--output-file` must never replace, with what they are (for the message).
pub struct Protected<'a> {
    pub path: &'a Path,
    pub what: &'static str,
    /// A database: its `-wal`, `-shm` and `-journal` are protected with it.
    pub with_sidecars: bool,
}

/// The files of `config` that sa writes to a path must never land on: the database (and,
/// through it, its `-wal`, `-shm` and `-journal`) and the config file.
pub fn protected_by(config: &crate::config::Config) -> [Protected<'_>; 2] {
    [
        Protected {
            path: &config.db_path,
            what: "the sa database",
            with_sidecars: true,
        },
        Protected {
            path: &config.file,
            what: "the sa config file",
            with_sidecars: false,
        },
    ]
}

/// Refuses `path` if it names (or leads through symlinks to) one of the `protected` files.
pub fn refuse_if_protected(path: &Path, protected: &[Protected<'_>]) -> Result<()> {
    refuse_protected(path, &lexical_absolute(path), None, protected)?;
    if let Some(target) = resolved(path) {
        let meta = std::fs::metadata(&target).ok();
        refuse_protected(path, &target, meta.as_ref(), protected)?;
    }
    Ok(())
}

/// Temporary files older than this beside a token file are a killed writer's leftovers.
const STALE_AFTER: Duration = Duration::from_secs(60);
const TEMP_PREFIX: &str = ".sa-token-";

/// A token file made ready before minting; [`TokenFile::commit`] fills it and puts it in place.
pub struct TokenFile {
    /// The path the user named, as shown back to them.
    requested: PathBuf,
    /// The file that is replaced: `requested` with its symlinks resolved.
    target: PathBuf,
    dir: PathBuf,
    temp: Temp,
}

enum Temp {
    /// An `O_TMPFILE`: no name, so nothing is left behind if the process dies.
    Unnamed(File),
    /// A named file in the target's directory, removed on drop and on a terminating signal.
    Named {
        file: tempfile::NamedTempFile,
        _on_signal: signal_cleanup::Guard,
    },
}

fn refused(message: String) -> Error {
    Error::InvalidInput(message)
}

/// `path` made absolute and tidied (`.` and `..` resolved by name), without touching the
/// file system: what the user meant, before any symlink is followed.
fn lexical_absolute(path: &Path) -> PathBuf {
    let base = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().unwrap_or_default()
    };
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` with every symlink resolved; for a path that does not exist yet, its directory
/// resolved and its name kept.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

fn in_kernel_file_system(path: &Path) -> bool {
    ["/dev", "/proc", "/sys"]
        .iter()
        .any(|root| path.starts_with(root))
}

/// Refuses `target` if it is (or will be) one of the protected files.
fn refuse_protected(
    requested: &Path,
    target: &Path,
    target_meta: Option<&Metadata>,
    protected: &[Protected<'_>],
) -> Result<()> {
    for item in protected {
        let suffixes: &[&str] = if item.with_sidecars {
            &["", "-wal", "-shm", "-journal"]
        } else {
            &[""]
        };
        // SQLite keeps the sidecars beside the file a symlinked database path leads to.
        let real = std::fs::canonicalize(item.path).ok();
        for (base, suffix) in suffixes
            .iter()
            .flat_map(|suffix| [Some(item.path), real.as_deref()].map(|base| (base, suffix)))
        {
            let Some(base) = base else { continue };
            let guarded = sidecar(base, suffix);
            let same_path = [Some(lexical_absolute(&guarded)), resolved(&guarded)]
                .iter()
                .flatten()
                .any(|p| p == target);
            let same_file = match (target_meta, std::fs::metadata(&guarded)) {
                (Some(t), Ok(g)) => t.dev() == g.dev() && t.ino() == g.ino(),
                _ => false,
            };
            if same_path || same_file {
                let which = if suffix.is_empty() {
                    item.what.to_string()
                } else {
                    format!("the `{suffix}` file of {}", item.what)
                };
                return Err(refused(format!(
                    "`{}` is {which} (`{}`); sa never writes over it",
                    requested.display(),
                    guarded.display()
                )));
            }
        }
    }
    Ok(())
}

/// Removes `.sa-token-*` files in `dir` that a killed writer left more than a minute ago
/// (a SIGKILL runs no cleanup). Younger ones may belong to a writer still at work.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if meta.file_type().is_file() && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether to try `O_TMPFILE` (linking it into place needs `/proc/self/fd`).
fn unnamed_temps_wanted() -> bool {
    std::env::var_os("SA_TOKEN_FILE_NO_TMPFILE").is_none_or(|v| v.is_empty())
        && Path::new("/proc/self/fd").is_dir()
}

/// An unnamed file in `dir`, or `None` where the file system cannot make one.
fn open_unnamed(dir: &Path) -> Result<Option<File>> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::openat(
        rustix::fs::CWD,
        dir,
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(errno)
            if [
                rustix::io::Errno::OPNOTSUPP,
                rustix::io::Errno::ISDIR,
                rustix::io::Errno::INVAL,
                rustix::io::Errno::NOENT,
            ]
            .contains(&errno) =>
        {
            Ok(None)
        }
        Err(errno) => Err(cannot_create_in(dir, errno.into())),
    }
}

fn cannot_create_in(dir: &Path, err: std::io::Error) -> Error {
    // tempfile appends ` at path "…/.sa-token-XXXX"`, a file that never came to be; the OS
    // error alone is the news.
    let text = err.to_string();
    let text = text.split(" at path ").next().unwrap_or(&text).to_string();
    Error::io(
        format!("cannot create a file in `{}`", dir.display()),
        std::io::Error::new(err.kind(), text),
    )
}

impl TokenFile {
    /// Checks that `requested` may receive a token, and creates the file that will hold it,
    /// with the owner and mode it will have. Nothing has been minted yet, so every refusal
    /// here changes nothing.
    pub fn prepare(requested: &Path, protected: &[Protected<'_>]) -> Result<Self> {
        let shown = requested.display();
        // `dir/`, `dir/.` or `..` name a directory even when it does not exist yet.
        let text = requested.as_os_str().as_bytes();
        let names_a_directory = text.ends_with(b"/")
            || text.ends_with(b"/.")
            || text.ends_with(b"/..")
            || text == b"."
            || text == b"..";
        if names_a_directory {
            return Err(refused(format!("`{shown}` is a directory")));
        }
        let kernel = |path: &Path| {
            refused(format!(
                "`{shown}` is inside /dev, /proc or /sys (`{}`); a token file is a regular file \
                 elsewhere",
                path.display()
            ))
        };
        let lexical = lexical_absolute(requested);
        if in_kernel_file_system(&lexical) {
            return Err(kernel(&lexical));
        }
        refuse_protected(requested, &lexical, None, protected)?;
        let link = std::fs::symlink_metadata(requested).ok();
        let is_link = link.as_ref().is_some_and(|m| m.file_type().is_symlink());
        let target = match resolved(requested) {
            Some(target) if !is_link || target.exists() => target,
            // A symlink to nothing: following it would create a file wherever it points.
            _ if is_link => {
                let to = std::fs::read_link(requested).unwrap_or_default();
                return Err(refused(format!(
                    "`{shown}` is a symlink to `{}`, which does not exist; a token file \
                     follows a symlink only to an existing regular file",
                    to.display()
                )));
            }
            _ => {
                let dir = requested
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let err = std::fs::metadata(dir)
                    .err()
                    .unwrap_or_else(|| std::io::Error::other("not a directory"));
                return Err(cannot_create_in(dir, err));
            }
        };
        if in_kernel_file_system(&target) {
            return Err(kernel(&target));
        }
        let existing = std::fs::metadata(&target).ok();
        if let Some(meta) = &existing {
            if meta.is_dir() {
                return Err(refused(format!("`{shown}` is a directory")));
            }
            if !meta.is_file() {
                return Err(refused(format!(
                    "`{shown}` is not a regular file (a device, FIFO or socket); a token file \
                     is a regular file"
                )));
            }
        }
        refuse_protected(requested, &target, existing.as_ref(), protected)?;

        let dir = target
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        remove_stale_temps(&dir);
        let temp = match unnamed_temps_wanted()
            .then(|| open_unnamed(&dir))
            .transpose()?
            .flatten()
        {
            Some(file) => Temp::Unnamed(file),
            None => {
                let file = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .permissions(std::fs::Permissions::from_mode(0o600))
                    .tempfile_in(&dir)
                    .map_err(|e| cannot_create_in(&dir, e))?;
                let guard = signal_cleanup::Guard::new(file.path());
                Temp::Named {
                    file,
                    _on_signal: guard,
                }
            }
        };
        let token_file = TokenFile {
            requested: requested.to_path_buf(),
            target,
            dir,
            temp,
        };
        token_file.take_on(existing.as_ref())?;
        Ok(token_file)
    }

    fn file(&self) -> &File {
        match &self.temp {
            Temp::Unnamed(file) => file,
            Temp::Named { file, .. } => file.as_file(),
        }
    }

    /// Gives the new file the owner, group and mode of the one it replaces (0600 when there
    /// is none), so the service that reads it still can. Refused here, before minting, when
    /// this process may not give it that owner.
    fn take_on(&self, existing: Option<&Metadata>) -> Result<()> {
        let Some(old) = existing else {
            return Ok(());
        };
        let file = self.file();
        let ours = file
            .metadata()
            .map_err(|e| Error::io("cannot read the new token file", e))?;
        if (ours.uid(), ours.gid()) != (old.uid(), old.gid()) {
            std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(|e| {
                Error::io(
                    format!(
                        "cannot give the new `{}` the owner of the file it replaces (uid {}, gid \
                         {}); run as that user, or remove the file first",
                        self.requested.display(),
                        old.uid(),
                        old.gid()
                    ),
                    e,
                )
            })?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o777))
            .map_err(|e| Error::io("cannot set the mode of the new token file", e))
    }

    /// Writes `token` and puts the file in place. Called only after the token's transaction
    /// committed; a failure here says which token id was stored, so it can be revoked.
    /// Returns the path the user named.
    pub fn commit(self, token: &str, token_id: &str) -> Result<PathBuf> {
        let requested = self.requested.clone();
        let failed = |e: std::io::Error| {
            Error::io(
                format!(
                    "token `{token_id}` was stored but could not be written to `{}` (revoke it \
                     with `sa token revoke {token_id}`)",
                    requested.display()
                ),
                e,
            )
        };
        // Whatever came to be at the target since `prepare` must still be a regular file.
        if let Ok(meta) = std::fs::symlink_metadata(&self.target)
            && !meta.is_file()
        {
            return Err(failed(std::io::Error::other(
                "it is no longer a regular file",
            )));
        }
        let mut file = self.file();
        file.write_all(token.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        match self.temp {
            Temp::Unnamed(file) => {
                let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
                let link_to = |name: &Path| {
                    rustix::fs::linkat(
                        rustix::fs::CWD,
                        proc_path.as_str(),
                        rustix::fs::CWD,
                        name,
                        rustix::fs::AtFlags::SYMLINK_FOLLOW,
                    )
                };
                // A new file is linked straight into place: it never has another name.
                match link_to(&self.target) {
                    Ok(()) => return finish(&self.dir, self.requested, failed),
                    Err(rustix::io::Errno::EXIST) => {}
                    Err(errno) => return Err(failed(errno.into())),
                }
                // Replacing needs a rename, so a name for the instant between link and
                // rename; the guard removes it if a signal ends the process in that instant
                // (a SIGKILL's leftover goes with the next write, a minute on).
                let name = self
                    .dir
                    .join(format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()));
                link_to(&name).map_err(|e| failed(e.into()))?;
                let _on_signal = signal_cleanup::Guard::new(&name);
                if let Err(e) = std::fs::rename(&name, &self.target) {
                    let _ = std::fs::remove_file(&name);
                    return Err(failed(e));
                }
            }
            Temp::Named { file, _on_signal } => {
                file.persist(&self.target).map_err(|e| failed(e.error))?;
                drop(_on_signal);
            }
        }
        finish(&self.dir, self.requested, failed)
    }

    /// The file that receives the token, when it differs from the path named (a symlink).
    pub fn resolved_target(&self) -> Option<&Path> {
        (lexical_absolute(&self.requested) != self.target).then_some(self.target.as_path())
    }
}

/// Makes the new name durable (a rename or link is, only once its directory is).
fn finish(
    dir: &Path,
    requested: PathBuf,
    failed: impl Fn(std::io::Error) -> Error,
) -> Result<PathBuf> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(failed)?;
    Ok(requested)
}

/// Removes one named temporary file if SIGINT, SIGTERM or SIGHUP ends the process, then lets
/// the signal end it as it would have.
mod signal_cleanup {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Once;
    use std::sync::atomic::{AtomicPtr, Ordering};

    /// The file to remove, as a C string the handler can use without allocating.
    static PENDING: AtomicPtr<std::ffi::c_char> = AtomicPtr::new(std::ptr::null_mut());
    static INSTALL: Once = Once::new();

    fn install() {
        for signal in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            // SAFETY: the action only swaps an atomic pointer, calls unlink(2) on a C
            // string nobody frees while it is published, and re-raises the signal with
            // its default action: all async-signal-safe, no allocation, no locks.
            let _ = unsafe {
                signal_hook::low_level::register(signal, move || {
                    let path = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
                    if !path.is_null() {
                        // SAFETY: published by `Guard::new` from a live CString.
                        let _ = rustix::fs::unlink(std::ffi::CStr::from_ptr(path));
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                })
            };
        }
    }

    /// While alive, a terminating signal removes the file.
    pub struct Guard {
        path: *mut std::ffi::c_char,
    }

    impl Guard {
        pub fn new(path: &Path) -> Self {
            INSTALL.call_once(install);
            let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
                return Guard {
                    path: std::ptr::null_mut(),
                };
            };
            let raw = c_path.into_raw();
            let previous = PENDING.swap(raw, Ordering::SeqCst);
            if !previous.is_null() {
                // SAFETY: a pointer PENDING held came from `CString::into_raw` and, once
                // swapped out here, is reachable from nowhere else.
                drop(unsafe { CString::from_raw(previous) });
            }
            Guard { path: raw }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.path.is_null() {
                return;
            }
            let unpublished = PENDING
                .compare_exchange(
                    self.path,
                    std::ptr::null_mut(),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok();
            // If a handler took the pointer, it may still be using it: leak it instead.
            if unpublished {
                // SAFETY: came from `CString::into_raw` in `new` and is no longer published.
                drop(unsafe { CString::from_raw(self.path) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected_db(path: &Path) -> [Protected<'_>; 1] {
        [Protected {
            path,
            what: "the sa database",
            with_sidecars: true,
        }]
    }

    #[test]
    fn the_database_and_its_sidecars_are_refused_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sa.db");
        std::fs::write(&db, b"db").unwrap();
        let link = dir.path().join("alias");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        let wal = dir.path().join("sa.db-wal");
        for path in [&db, &link, &wal, &dir.path().join("./sub/../sa.db-shm")] {
            let err = TokenFile::prepare(path, &protected_db(&db)).err().unwrap();
            assert_eq!(err.exit_code(), 2, "{}: {err}", path.display());
        }
        // The database named through a symlink: its sidecars are beside the real file.
        for path in [&db, &wal] {
            let err = TokenFile::prepare(path, &protected_db(&link))
                .err()
                .unwrap();
            assert_eq!(err.exit_code(), 2, "{}: {err}", path.display());
            assert!(err.to_string().contains("never writes over"), "{err}");
        }
        assert_eq!(std::fs::read(&db).unwrap(), b"db");
    }

    #[test]
    fn kernel_file_systems_and_dangling_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for path in ["/dev/stdout", "/dev/shm/x", "/proc/self/environ", "/sys/x"] {
            let err = TokenFile::prepare(Path::new(path), &[]).err().unwrap();
            assert!(err.to_string().contains("/dev, /proc or /sys"), "{err}");
        }
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = TokenFile::prepare(&dangling, &[]).err().unwrap();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_named_temp_file_is_replaced_into_place_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("svc.token");
        std::fs::write(&target, "old\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        for temp_kind_named in [false, true] {
            let prepared = TokenFile::prepare(&target, &[]).unwrap();
            let prepared = if temp_kind_named {
                // The fallback path, as on a file system without O_TMPFILE.
                let file = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .permissions(std::fs::Permissions::from_mode(0o600))
                    .tempfile_in(dir.path())
                    .unwrap();
                let guard = signal_cleanup::Guard::new(file.path());
                let prepared = TokenFile {
                    temp: Temp::Named {
                        file,
                        _on_signal: guard,
                    },
                    ..prepared
                };
                prepared
                    .take_on(std::fs::metadata(&target).ok().as_ref())
                    .unwrap();
                prepared
            } else {
                prepared
            };
            prepared.commit("sa_new", "id").unwrap();
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "sa_new\n");
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640, "the replaced file's mode is kept");
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["svc.token"]);
        }
    }
}
