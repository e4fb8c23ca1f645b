//! Token files: where `--output-file` (and every later feature that writes a token to a file)
//! puts a freshly minted token, so that a service re-reading the file picks up a rotation
//! without a restart.
//!
//! Everything that can be refused is refused by [`TokenFile::prepare`], before the token is
//! minted: the database and its `-wal`/`-shm`/`-journal` files, the config file, anything that
//! is not a regular file once symlinks are resolved (a device, FIFO, socket or directory, or a
//! symlink to nothing), anything inside `/dev`, `/proc` or `/sys`, and a symlink the kernel
//! would not follow for us (`fs.protected_symlinks`). A symlink to a regular file is followed,
//! and the file it leads to is replaced in its own directory, so Kubernetes-style `..data`
//! links keep working.
//!
//! The target's directory is opened once, in `prepare`; every later step (creating, linking,
//! renaming) is relative to that descriptor, so swapping a directory on the path for a
//! symlink between minting and writing cannot send the token elsewhere.
//!
//! The new file is written beside the one it replaces and renamed over it after an fsync, so a
//! reader sees the old token or the new one, never a partial one. It takes the replaced file's
//! owner and group at once and its mode once the token is in it (0600 for a new file), so a
//! leftover is never more readable than 0600. The secret never lingers in a temporary file:
//! where the file system allows `O_TMPFILE`, the file has no name until it is complete; where
//! it does not, the named `.sa-token-*` file is removed on drop and when SIGINT, SIGTERM or
//! SIGHUP ends the process, and a SIGKILL's leftovers are removed by the next write beside
//! them a minute on (see `cli::cleanup`). (`SA_TOKEN_FILE_NO_TMPFILE=1` forces the named file,
//! so tests can reach that path on any file system.)

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::cli::cleanup;
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

const TEMP_PREFIX: &str = ".sa-token-";

/// A token file made ready before minting; [`TokenFile::commit`] fills it and puts it in place.
pub struct TokenFile {
    /// The path the user named, as shown back to them.
    requested: PathBuf,
    /// The file that is replaced: `requested` with its symlinks resolved.
    target: PathBuf,
    /// The target's directory, opened once; everything after `prepare` is relative to it.
    dir: OwnedFd,
    /// The target's name in `dir`.
    name: OsString,
    /// The mode the finished file gets: the replaced file's, or 0600.
    mode: u32,
    temp: Temp,
}

enum Temp {
    /// An `O_TMPFILE`: no name, so nothing is left behind if the process dies.
    Unnamed(File),
    /// A named file beside the target, for file systems without `O_TMPFILE`.
    Named(cleanup::TempFile),
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

/// Follows the symlinks at `requested` one hop at a time and refuses the chain if any hop
/// lives in, or leads into, `/dev`, `/proc` or `/sys` (`link -> /dev/stdout` would write
/// over whatever stdout is), if it loops or runs past 40 hops, or if a hop is a link the
/// kernel's `fs.protected_symlinks` rule would not follow: one in a sticky world-writable
/// directory (as /tmp) owned neither by this user nor by the directory's owner. Resolving a
/// path by reading links by hand would otherwise skip that rule.
fn check_link_chain(requested: &Path) -> Result<()> {
    let shown = requested.display();
    let euid = rustix::process::geteuid().as_raw();
    let mut current = lexical_absolute(requested);
    for _ in 0..40 {
        if let Some(dir) = current.parent().and_then(|d| std::fs::canonicalize(d).ok())
            && in_kernel_file_system(&dir)
        {
            return Err(refused(format!(
                "`{shown}` leads into /dev, /proc or /sys (`{}`); a token file is a regular \
                 file elsewhere",
                dir.display()
            )));
        }
        let Ok(meta) = std::fs::symlink_metadata(&current) else {
            return Ok(());
        };
        if !meta.file_type().is_symlink() {
            return Ok(());
        }
        let dir = current.parent().unwrap_or(Path::new("/")).to_path_buf();
        if let Ok(dir_meta) = std::fs::metadata(&dir) {
            let shared = dir_meta.mode() & 0o1002 == 0o1002;
            if shared && meta.uid() != euid && meta.uid() != dir_meta.uid() {
                return Err(refused(format!(
                    "`{shown}` goes through `{}`, a symlink another user owns in a shared \
                     directory; sa does not follow it (as `fs.protected_symlinks` would not)",
                    current.display()
                )));
            }
        }
        let to = std::fs::read_link(&current).map_err(|e| {
            Error::io(
                format!("cannot read the symlink `{}`", current.display()),
                e,
            )
        })?;
        if in_kernel_file_system(&lexical_absolute(&dir.join(&to))) {
            return Err(refused(format!(
                "`{shown}` leads into /dev, /proc or /sys (`{}`); a token file is a regular \
                 file elsewhere",
                to.display()
            )));
        }
        current = lexical_absolute(&dir.join(to));
    }
    Err(refused(format!(
        "`{shown}` is a symlink loop, or a chain of more than 40 symlinks"
    )))
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
            // The same name in the same directory reached another way (a bind mount):
            // what SQLite would create there is ours too.
            let same_directory = |a: &Path, b: &Path| {
                let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
                a.file_name() == b.file_name()
                    && a.parent().and_then(id).is_some()
                    && a.parent().and_then(id) == b.parent().and_then(id)
            };
            if same_path || same_file || same_directory(target, &guarded) {
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

/// Whether to try `O_TMPFILE` (linking it into place needs `/proc/self/fd`).
fn unnamed_temps_wanted() -> bool {
    std::env::var_os("SA_TOKEN_FILE_NO_TMPFILE").is_none_or(|v| v.is_empty())
        && Path::new("/proc/self/fd").is_dir()
}

/// An unnamed file in `dir`, or `None` where the file system cannot make one.
fn open_unnamed(dir: &OwnedFd, dir_path: &Path) -> Result<Option<File>> {
    match rustix::fs::openat(
        dir,
        ".",
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => {
            let file = File::from(fd);
            cleanup::hold(&file).map_err(|e| cannot_create_in(dir_path, e))?;
            Ok(Some(file))
        }
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
        Err(errno) => Err(cannot_create_in(dir_path, errno.into())),
    }
}

fn cannot_create_in(dir: &Path, err: std::io::Error) -> Error {
    Error::io(format!("cannot create a file in `{}`", dir.display()), err)
}

impl TokenFile {
    /// Checks that `requested` may receive a token, and creates the file that will hold it,
    /// owned as it will be. Nothing has been minted yet, so every refusal here changes
    /// nothing.
    pub fn prepare(requested: &Path, protected: &[Protected<'_>]) -> Result<Self> {
        Self::prepare_with(requested, protected, unnamed_temps_wanted())
    }

    /// [`TokenFile::prepare`], trying `O_TMPFILE` first or (`unnamed = false`) not at all.
    fn prepare_with(requested: &Path, protected: &[Protected<'_>], unnamed: bool) -> Result<Self> {
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
        check_link_chain(requested)?;
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

        let (Some(dir_path), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(refused(format!("`{shown}` names no file")));
        };
        let dir = rustix::fs::openat(
            rustix::fs::CWD,
            dir_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| cannot_create_in(dir_path, e.into()))?;
        cleanup::remove_stale(dir_path, TEMP_PREFIX);
        let temp = match unnamed
            .then(|| open_unnamed(&dir, dir_path))
            .transpose()?
            .flatten()
        {
            Some(file) => Temp::Unnamed(file),
            None => Temp::Named(
                cleanup::TempFile::create(&dir, dir_path, TEMP_PREFIX)
                    .map_err(|e| cannot_create_in(dir_path, e))?,
            ),
        };
        let token_file = TokenFile {
            requested: requested.to_path_buf(),
            target: target.clone(),
            dir,
            name: name.to_os_string(),
            mode: existing.as_ref().map_or(0o600, |m| m.mode() & 0o777),
            temp,
        };
        token_file.take_owner(existing.as_ref())?;
        Ok(token_file)
    }

    fn file(&self) -> &File {
        match &self.temp {
            Temp::Unnamed(file) => file,
            Temp::Named(named) => named.file(),
        }
    }

    /// Gives the new file the owner and group of the one it replaces, so the service that
    /// reads it still can. Refused here, before minting, when this process may not.
    fn take_owner(&self, existing: Option<&Metadata>) -> Result<()> {
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
        Ok(())
    }

    /// The mode the written file gets (the replaced file's, or 0600).
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// The file that receives the token, when it differs from the path named (a symlink).
    pub fn resolved_target(&self) -> Option<&Path> {
        (lexical_absolute(&self.requested) != self.target).then_some(self.target.as_path())
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
        match rustix::fs::statat(&self.dir, self.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if !rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file() => {
                return Err(failed(std::io::Error::other(
                    "it is no longer a regular file",
                )));
            }
            _ => {}
        }
        let mut file = self.file();
        file.write_all(token.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(self.mode)))
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        let rename_into_place = |from: &OsStr| {
            rustix::fs::renameat(&self.dir, from, &self.dir, self.name.as_os_str())
                .map_err(|e| failed(e.into()))
        };
        match self.temp {
            Temp::Unnamed(file) => {
                let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
                let link_as = |name: &OsStr| {
                    rustix::fs::linkat(
                        rustix::fs::CWD,
                        proc_path.as_str(),
                        &self.dir,
                        name,
                        AtFlags::SYMLINK_FOLLOW,
                    )
                };
                // A new file is linked straight into place: it never has another name.
                match link_as(self.name.as_os_str()) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::EXIST) => {
                        // Replacing needs a rename, so a name for the instant between link
                        // and rename, removed if a signal ends the process then (a SIGKILL's
                        // leftover goes with the next write, a minute on; the lock the file
                        // holds keeps it from anyone else meanwhile).
                        let temp = cleanup::temp_name(TEMP_PREFIX);
                        let _on_signal = cleanup::Guard::new(&self.target.with_file_name(&temp));
                        link_as(temp.as_os_str()).map_err(|e| failed(e.into()))?;
                        if let Err(err) = rename_into_place(temp.as_os_str()) {
                            let _ =
                                rustix::fs::unlinkat(&self.dir, temp.as_os_str(), AtFlags::empty());
                            return Err(err);
                        }
                    }
                    Err(errno) => return Err(failed(errno.into())),
                }
            }
            Temp::Named(mut named) => {
                rename_into_place(named.name())?;
                named.placed();
            }
        }
        // The new name is durable only once its directory is.
        rustix::fs::fsync(&self.dir).map_err(|e| failed(e.into()))?;
        Ok(self.requested)
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
    fn either_temp_file_is_renamed_into_place_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("svc.token");
        std::fs::write(&target, "old\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        for unnamed in [true, false] {
            let prepared = TokenFile::prepare_with(&target, &[], unnamed).unwrap();
            assert_eq!(matches!(prepared.temp, Temp::Named(_)), !unnamed);
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
        // Prepared and dropped (the mint was refused): the named file goes with it.
        let prepared = TokenFile::prepare_with(&target, &[], false).unwrap();
        drop(prepared);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "sa_new\n");
    }
}
