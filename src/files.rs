//! Local files opened safely: what the state store, the audit log, the pass lock, the cron
//! mode's metrics file and the emulator's `--persist` file share.
//!
//! Each of these lives at a name someone else may know in advance, often in a folder someone
//! else may write to. So a file is never opened through a symbolic link at its own name
//! (`O_NOFOLLOW`), never opened in a way that blocks (`O_NONBLOCK`: a FIFO planted at the name
//! would otherwise hang the process with its lock held), and checked on the open descriptor
//! (`fstat`) to be a regular file before anything is written; a temporary file has an
//! unpredictable name and is created exclusively, with its final mode; and the folder is
//! checked for who else may write to it ([`check_folder`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many unpredictable temporary names are tried before giving up (each is 64 random
/// bits: a second try only happens if someone planted that very name).
const TEMPORARY_TRIES: usize = 8;

/// Why a file or a folder is refused.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeFile {
    /// The name is a symbolic link: following it would write wherever it points.
    #[error("it is a symbolic link, which is never followed (replace it with a regular file)")]
    Symlink,
    /// The name is something other than a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file has other names: appending to it would also write there.
    #[error("it has {0} hard links (other names elsewhere); it must have exactly one")]
    HardLinked(u64),
    /// The file belongs to another user, who could read it or loosen its mode again.
    #[error("it is owned by uid {owner}, not by this process's user (uid {me})")]
    NotOwned {
        /// The file's owner.
        owner: u32,
        /// This process's effective user.
        me: u32,
    },
    /// The folder lets others replace or plant files.
    #[error(
        "its folder {folder} is not private: {risk}; use a folder only its owner may write to \
         (chmod go-w {folder})"
    )]
    Folder {
        /// The folder, as given.
        folder: PathBuf,
        /// Who else may write to it.
        risk: FolderRisk,
    },
}

impl From<UnsafeFile> for io::Error {
    fn from(e: UnsafeFile) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, e)
    }
}

/// Who other than its owner may create, replace or remove the files of a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderRisk {
    /// Group-writable, and the group is not this process's own.
    Group {
        /// The folder's group.
        gid: u32,
        /// The folder's permission bits.
        mode: u32,
    },
    /// World-writable with the sticky bit (as `/tmp`): others cannot replace or remove this
    /// process's files, but can take a file's name before it exists.
    AnyoneSticky {
        /// The folder's permission bits.
        mode: u32,
    },
    /// World-writable without the sticky bit: anyone may replace or remove any file in it.
    Anyone {
        /// The folder's permission bits.
        mode: u32,
    },
}

impl fmt::Display for FolderRisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FolderRisk::Group { gid, mode } => write!(
                f,
                "group {gid} may create, replace or remove files in it (mode {mode:o})"
            ),
            FolderRisk::AnyoneSticky { mode } => write!(
                f,
                "anyone may create files in it (mode {mode:o}; sticky: others cannot replace \
                 this process's files, but can take a file's name before it exists)"
            ),
            FolderRisk::Anyone { mode } => write!(
                f,
                "anyone may create, replace or remove files in it (mode {mode:o})"
            ),
        }
    }
}

/// What a folder holds, which decides how strict [`check_folder`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderUse {
    /// Files only this process's user may read or change (the audit log, the state): any
    /// [`FolderRisk`] is refused. A group-writable folder whose group is the process's own
    /// effective group is not a risk: that is the user-private-group layout of most Linux
    /// distributions (umask 002) and Kubernetes' `fsGroup` volumes (`fsGroup` = `runAsGroup`).
    Private,
    /// Files anyone may read, replaced whole by rename so they can never be written through
    /// (the metrics textfile): [`FolderRisk::Anyone`] is refused (anyone could replace the
    /// file with forged values); the others are accepted, and returned for a warning, since
    /// textfile collector folders are often shared (`/tmp`, a group-writable collector folder).
    Public,
}

/// The folder a file lives in: its parent, or `.` for a bare name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The effective user and group of this process, from the owner of `/proc/self` (Linux; the
/// standard library exposes no `geteuid` and `unsafe` is forbidden here). `None` elsewhere.
pub fn process_owner() -> Option<(u32, u32)> {
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| (m.uid(), m.gid()))
}

/// Who else may write to a folder whose permission bits are `mode` and whose group is `gid`,
/// for a process whose effective group is `own_gid`.
pub fn folder_risk(mode: u32, gid: u32, own_gid: Option<u32>) -> Option<FolderRisk> {
    let mode = mode & 0o7777;
    if mode & 0o002 != 0 {
        return Some(if mode & 0o1000 != 0 {
            FolderRisk::AnyoneSticky { mode }
        } else {
            FolderRisk::Anyone { mode }
        });
    }
    (mode & 0o020 != 0 && own_gid != Some(gid)).then_some(FolderRisk::Group { gid, mode })
}

/// Checks the folder `dir` for a file of the given use: `Ok(None)` when only its owner (or the
/// process's own group) may write to it, `Ok(Some(risk))` when it is accepted with a warning
/// the caller gives (naming its file), an [`UnsafeFile::Folder`] error when it is refused.
/// Only `dir` itself is checked, not its parents. Reusable by every user of a local file.
pub fn check_folder(dir: &Path, usage: FolderUse) -> io::Result<Option<FolderRisk>> {
    let meta = std::fs::metadata(dir)?;
    let own_gid = process_owner().map(|(_, gid)| gid);
    let Some(risk) = folder_risk(meta.mode(), meta.gid(), own_gid) else {
        return Ok(None);
    };
    match (usage, risk) {
        (FolderUse::Public, FolderRisk::Group { .. } | FolderRisk::AnyoneSticky { .. }) => {
            Ok(Some(risk))
        }
        _ => Err(UnsafeFile::Folder {
            folder: dir.to_path_buf(),
            risk,
        }
        .into()),
    }
}

/// What a name is, for an error: `a FIFO`, `a folder`…
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// An open that failed because of what the name is (a link not followed, a FIFO without a
/// reader, a folder), told as such; other errors as they are.
fn explain_open_error(path: &Path, e: io::Error) -> io::Error {
    let raw = e.raw_os_error();
    if ![Some(libc::ELOOP), Some(libc::ENXIO), Some(libc::EISDIR)].contains(&raw) {
        return e;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => UnsafeFile::Symlink.into(),
        Ok(m) if !m.file_type().is_file() => UnsafeFile::NotRegular(kind_of(&m)).into(),
        _ => e,
    }
}

/// Opens `path` with `options`, never following a symbolic link at its name and never
/// blocking (a FIFO without a reader fails at once), and refuses anything but a regular file,
/// checked on the open descriptor. The building block of every open in this module.
pub fn open_regular(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let file = options
        .open(path)
        .map_err(|e| explain_open_error(path, e))?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(UnsafeFile::NotRegular(kind_of(&meta)).into());
    }
    Ok(file)
}

/// Reads `path` whole if it is a regular file (not through a symbolic link, never blocking);
/// `Ok(None)` if it does not exist.
pub fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match open_regular(path, OpenOptions::new().read(true)) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `path` for appending, for a file only this process's user may read (the audit log):
/// created with mode 0600 if missing; never through a symbolic link, never blocking; refused
/// unless it is a regular file with one name, owned by this process's user. Its mode is then
/// set to 0600 on the open descriptor (never by path, which could have been swapped). Also
/// returns the mode it had when that was wider (for a warning).
pub fn open_append_private(path: &Path) -> io::Result<(File, Option<u32>)> {
    let file = open_regular(
        path,
        OpenOptions::new().append(true).create(true).mode(0o600),
    )?;
    let meta = file.metadata()?;
    if meta.nlink() > 1 {
        return Err(UnsafeFile::HardLinked(meta.nlink()).into());
    }
    if let Some((me, _)) = process_owner()
        && meta.uid() != me
    {
        return Err(UnsafeFile::NotOwned {
            owner: meta.uid(),
            me,
        }
        .into());
    }
    let mode = meta.mode() & 0o7777;
    if mode == 0o600 {
        return Ok((file, None));
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok((file, Some(mode)))
}

/// A temporary file beside `path`, created exclusively (never an existing file, never through
/// a link) under an unpredictable hidden name (`.NAME.RANDOM.tmp`, which node_exporter's
/// textfile collector skips), with mode `mode` from its creation.
fn create_temporary(dir: &Path, name: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    let mut last = None;
    for _ in 0..TEMPORARY_TRIES {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", fastrand::u64(..)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(mode);
        match open_regular(&tmp, &mut options) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temporary name")))
}

/// Replaces `path` with `bytes` so that a reader sees the old file or the new one, never a
/// part: a temporary file beside it (an unpredictable hidden name, `.NAME.RANDOM.tmp`, created
/// exclusively, never through a link), given `mode` (Unix permissions; `None`: 0600, private)
/// at creation and then exactly on its descriptor (whatever the umask), fsynced, renamed over
/// `path` (a symbolic link at `path` is replaced, never written through), then the folder
/// fsynced so the rename survives a crash (best effort: not every file system allows it).
/// The temporary file is removed when anything fails.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    write_atomically_with(path, mode, |out| out.write_all(bytes))
}

/// [`write_atomically`], the content written by `write` (through a buffer) instead of held
/// whole in memory first: for a large file such as the state at 100,000 users.
pub fn write_atomically_with(
    path: &Path,
    mode: Option<u32>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = folder_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mode = mode.unwrap_or(0o600);
    let (mut file, tmp) = create_temporary(dir, &name.to_string_lossy(), mode)?;
    let written = (|| {
        let mut out = io::BufWriter::with_capacity(1 << 16, &mut file);
        write(&mut out)?;
        out.flush()?;
        drop(out);
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
    }

    /// A file outside the folder under test, with known content and mode 0644.
    fn victim(dir: &Path) -> PathBuf {
        let path = dir.join("victim");
        std::fs::write(&path, "precious").unwrap();
        chmod(&path, 0o644);
        path
    }

    #[test]
    fn the_file_is_replaced_whole_with_its_mode_and_no_temporary_file_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsync.prom");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new\n", Some(0o644)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        assert_eq!(mode_of(&path), 0o644);
        write_atomically(&path, b"private\n", None).unwrap();
        assert_eq!(mode_of(&path), 0o600, "no mode: private");
        let missing = dir.path().join("no/such/folder/x.prom");
        assert!(write_atomically(&missing, b"x", None).is_err());
    }

    #[test]
    fn a_link_planted_at_the_old_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = victim(outside.path());
        let path = dir.path().join("state.json");
        let planted = dir
            .path()
            .join(format!(".state.json.{}.tmp", std::process::id()));
        symlink(&victim, &planted).unwrap();
        write_atomically(&path, b"new", Some(0o600)).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(mode_of(&victim), 0o644);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
    }

    #[test]
    fn the_temporary_name_is_unpredictable_and_never_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = victim(outside.path());
        let (_, a) = create_temporary(dir.path(), "x", 0o600).unwrap();
        let (_, b) = create_temporary(dir.path(), "x", 0o600).unwrap();
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with(".x.") && name.ends_with(".tmp"), "{name}");
        // An exclusive create through a planted link fails rather than opening its target.
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        assert!(open_regular(&link, &mut options).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_link_at_the_file_itself_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = victim(outside.path());
        let path = dir.path().join("m.prom");
        symlink(&victim, &path).unwrap();
        write_atomically(&path, b"new", Some(0o644)).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        // Nor is it read through.
        symlink(&victim, dir.path().join("other")).unwrap();
        let e = read_regular(&dir.path().join("other")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(read_regular(&dir.path().join("none")).unwrap(), None);
    }

    #[test]
    fn the_private_append_refuses_links_fifos_folders_and_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = victim(outside.path());
        let link = dir.path().join("link.jsonl");
        symlink(&victim, &link).unwrap();
        let e = open_append_private(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(mode_of(&victim), 0o644, "not chmod'ed");

        let fifo = dir.path().join("fifo.jsonl");
        mkfifo(&fifo);
        let started = std::time::Instant::now();
        let e = open_append_private(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
        // With a reader, the open succeeds: refused on the descriptor.
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let e = open_append_private(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        drop(reader);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));

        let e = open_append_private(dir.path()).unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");

        let hard = dir.path().join("hard.jsonl");
        std::fs::hard_link(&victim, &hard).unwrap();
        let e = open_append_private(&hard).unwrap_err();
        assert!(e.to_string().contains("2 hard links"), "{e}");
        assert_eq!(mode_of(&victim), 0o644, "not chmod'ed");

        // Another user's file (made so as root, as CI runs; skipped elsewhere).
        let theirs = dir.path().join("theirs.jsonl");
        std::fs::write(&theirs, "").unwrap();
        chmod(&theirs, 0o644);
        if std::os::unix::fs::chown(&theirs, Some(12345), None).is_ok() {
            let e = open_append_private(&theirs).unwrap_err();
            assert!(e.to_string().contains("owned by uid 12345"), "{e}");
            assert_eq!(mode_of(&theirs), 0o644, "not chmod'ed");
        }
    }

    #[test]
    fn the_private_append_creates_0600_and_tightens_on_the_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (mut file, was) = open_append_private(&path).unwrap();
        assert_eq!(was, None);
        assert_eq!(mode_of(&path), 0o600);
        file.write_all(b"one\n").unwrap();
        chmod(&path, 0o644);
        let (mut file, was) = open_append_private(&path).unwrap();
        assert_eq!(was, Some(0o644));
        assert_eq!(mode_of(&path), 0o600);
        file.write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn folders_others_may_write_to_are_refused_or_warned_by_use() {
        let anyone = folder_risk(0o40777, 0, Some(0));
        assert_eq!(anyone, Some(FolderRisk::Anyone { mode: 0o777 }));
        let sticky = folder_risk(0o41777, 0, Some(0));
        assert_eq!(sticky, Some(FolderRisk::AnyoneSticky { mode: 0o1777 }));
        // Group-writable: a risk unless the group is the process's own.
        assert_eq!(folder_risk(0o2775, 65532, Some(65532)), None);
        let other = folder_risk(0o775, 100, Some(1000));
        assert_eq!(
            other,
            Some(FolderRisk::Group {
                gid: 100,
                mode: 0o775
            })
        );
        assert_eq!(folder_risk(0o755, 100, None), None);

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        chmod(d, 0o700);
        assert_eq!(check_folder(d, FolderUse::Private).unwrap(), None);
        chmod(d, 0o777);
        let e = check_folder(d, FolderUse::Private).unwrap_err();
        assert!(e.to_string().contains("anyone may create, replace"), "{e}");
        assert!(e.to_string().contains(&d.display().to_string()), "{e}");
        assert!(check_folder(d, FolderUse::Public).is_err());
        chmod(d, 0o1777);
        assert!(check_folder(d, FolderUse::Private).is_err());
        let warned = check_folder(d, FolderUse::Public).unwrap();
        assert!(matches!(warned, Some(FolderRisk::AnyoneSticky { .. })));
        chmod(d, 0o700);
    }

    #[test]
    fn a_folder_writable_by_another_group_is_refused_for_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        chmod(d, 0o770);
        let own = process_owner().map(|(_, g)| g);
        // Giving the folder to another group needs root (as CI runs); skipped elsewhere.
        let other = if own == Some(1) { 2 } else { 1 };
        if std::os::unix::fs::chown(d, None, Some(other)).is_err() {
            return;
        }
        let e = check_folder(d, FolderUse::Private).unwrap_err();
        assert!(e.to_string().contains(&format!("group {other} may")), "{e}");
        assert!(check_folder(d, FolderUse::Public).unwrap().is_some());
        if let Some(own) = own {
            std::os::unix::fs::chown(d, None, Some(own)).unwrap();
            assert_eq!(check_folder(d, FolderUse::Private).unwrap(), None);
        }
    }

    /// A large file is written through the closure, never held whole: what it writes lands,
    /// and a closure that fails leaves the old file as it was and no temporary file behind.
    #[test]
    fn write_atomically_with_streams_and_keeps_the_old_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"old\n", None).unwrap();
        let failed = write_atomically_with(&path, None, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("the serialiser failed"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "the serialiser failed");
        assert_eq!(std::fs::read(&path).unwrap(), b"old\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        write_atomically_with(&path, Some(0o640), |out| {
            for i in 0..100_000 {
                writeln!(out, "{i}")?;
            }
            Ok(())
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 100_000);
        assert!(text.ends_with("99999\n"));
        assert_eq!(mode_of(&path), 0o640);
    }
}
