//! Backup and restore of the embedded default: the SQLite database and the photos under
//! DATA_DIR, in one tar archive whose last entry, `manifest.json`, lists every file with its
//! size and SHA-256.
//!
//! `backup` runs while the server serves. `VACUUM INTO` takes a consistent snapshot of the
//! database; then every file a row of the snapshot references is copied. A photo deleted between
//! the snapshot and its copy is dropped from the snapshot and reported; a thumbnail that went
//! missing is marked pending, so the server makes it again. An archive therefore never references
//! a file it does not hold. Files no row references (uploads not yet finalized, thumbnails made
//! after the snapshot) are left out: nothing acknowledged is among them.
//!
//! `restore` fills an empty DATA_DIR: it unpacks into a staging directory inside it, checks every
//! checksum and the database, and only then moves the files into place.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufReader, BufWriter, ErrorKind, Read, Write},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{
    Connection, Row,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

use crate::{
    config::{DatabaseSettings, Settings, StoreSettings},
    domain::photo_key::PhotoKey,
};

/// A command that refuses to run as asked (wrong backend, non-empty directory, existing event):
/// the binary prints its message as one line and exits with 2.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub fn refuse<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(Refused(message.into()).into())
}

const FORMAT: &str = "partypic-backup";
const VERSION: u32 = 1;
const DATABASE: &str = "partypic.sqlite";
const SECRET: &str = "jwt-secret";
const PHOTOS: &str = "photos";
const MANIFEST: &str = "manifest.json";
/// A manifest is a few hundred bytes per photo; anything bigger is not ours.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// One file of an archive, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    created_at: DateTime<Utc>,
    partypic_version: String,
    photos: u64,
    /// Photos deleted between the snapshot and their copy, left out of the snapshot.
    dropped_photos: Vec<String>,
    files: Vec<FileEntry>,
}

#[derive(Debug)]
pub struct BackupReport {
    pub photos: u64,
    pub files: usize,
    pub bytes: u64,
    /// Ids of photos deleted while the backup ran.
    pub dropped_photos: Vec<String>,
}

#[derive(Debug)]
pub struct RestoreReport {
    pub photos: u64,
    pub files: usize,
}

/// The embedded default's paths, or a refusal naming the configured external backend.
fn embedded_paths(settings: &Settings, command: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    match (&settings.database, &settings.store) {
        (DatabaseSettings::Sqlite { path }, StoreSettings::Filesystem { root }) => {
            Ok((path.clone(), root.clone()))
        }
        _ => refuse(format!(
            "`{command}` covers the embedded default (SQLite + photos in DATA_DIR); with \
             PostgreSQL or S3 configured use pg_dump and a bucket copy, see docs/operations.md \
             (\"Backup and restore\")"
        )),
    }
}

/// Reads through and hashes; the tar writer pulls file contents through it.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    pub fn finish(self) -> (u64, String) {
        (self.len, hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Appends `size` bytes from `reader` as the regular file `path`; returns its manifest entry.
pub fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    mode: u32,
    reader: impl Read,
) -> anyhow::Result<FileEntry> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(u64::try_from(Utc::now().timestamp()).unwrap_or_default());
    let mut hashing = Hashing::new(reader.take(size));
    tar.append_data(&mut header, path, &mut hashing)
        .with_context(|| format!("cannot write {path} to the archive"))?;
    let (len, sha256) = hashing.finish();
    if len != size {
        bail!("{path} changed while it was copied ({len} of {size} bytes)");
    }
    Ok(FileEntry {
        path: path.to_owned(),
        size,
        sha256,
    })
}

/// A new archive file next to `target`, renamed over it only by [`finish_archive`].
pub fn create_archive(
    target: &Path,
) -> anyhow::Result<tar::Builder<BufWriter<tempfile::NamedTempFile>>> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".partypic-archive-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    Ok(tar::Builder::new(BufWriter::new(file)))
}

/// Ends the archive, syncs it and renames it to `target`: a reader never sees a partial archive.
pub fn finish_archive(
    tar: tar::Builder<BufWriter<tempfile::NamedTempFile>>,
    target: &Path,
) -> anyhow::Result<u64> {
    let file = tar
        .into_inner()
        .context("cannot finish the archive")?
        .into_inner()
        .map_err(|e| e.into_error())
        .context("cannot write the archive")?;
    file.as_file()
        .sync_all()
        .context("cannot sync the archive")?;
    let len = file.as_file().metadata()?.len();
    file.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the archive to {}", target.display()))?;
    Ok(len)
}

async fn connect(path: &Path) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))
}

/// The object keys one row of `pictures` references.
struct Referenced {
    id: String,
    key: String,
    /// The thumbnail and the display copy, when made.
    variants: Vec<String>,
}

/// Writes a consistent snapshot of DATA_DIR's database and photos to `target`.
pub async fn backup(settings: &Settings, target: &Path) -> anyhow::Result<BackupReport> {
    let (db_path, photos) = embedded_paths(settings, "backup")?;
    if !db_path.is_file() {
        return refuse(format!(
            "no database at {}: is DATA_DIR right?",
            db_path.display()
        ));
    }
    let work = tempfile::Builder::new()
        .prefix(".partypic-backup-")
        .tempdir_in(
            target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .context("cannot create a working directory next to the archive")?;
    let snapshot = work.path().join(DATABASE);

    let mut live = connect(&db_path).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(&mut live)
        .await
        .context("cannot snapshot the database (VACUUM INTO)")?;
    live.close().await.ok();

    let mut db = connect(&snapshot).await?;
    let rows: Vec<Referenced> =
        sqlx::query("SELECT id, s3_key, thumb_key, display_key FROM pictures")
            .fetch_all(&mut db)
            .await
            .context("cannot read the snapshot's photos")?
            .iter()
            .map(|row| {
                Ok(Referenced {
                    id: row.try_get("id")?,
                    key: row.try_get("s3_key")?,
                    variants: [
                        row.try_get::<Option<String>, _>("thumb_key")?,
                        row.try_get::<Option<String>, _>("display_key")?,
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;

    let mut tar = create_archive(target)?;
    let mut files = Vec::with_capacity(rows.len() * 2 + 3);
    let mut dropped = Vec::new();
    let mut lost_thumbs = Vec::new();
    for row in &rows {
        match copy_object(&mut tar, &photos, &row.key)? {
            Some(entry) => files.push(entry),
            None => {
                dropped.push(row.id.clone());
                continue;
            }
        }
        for variant in &row.variants {
            match copy_object(&mut tar, &photos, variant)? {
                Some(entry) => files.push(entry),
                None => lost_thumbs.push(row.id.clone()),
            }
        }
    }
    for id in &dropped {
        tracing::warn!(photo = %id, "photo deleted during the backup: left out");
        sqlx::query("DELETE FROM pictures WHERE id = $1")
            .bind(id)
            .execute(&mut db)
            .await?;
    }
    for id in &lost_thumbs {
        sqlx::query(
            "UPDATE pictures SET thumb_key = NULL, display_key = NULL, thumb_status = 'pending' \
             WHERE id = $1",
        )
        .bind(id)
        .execute(&mut db)
        .await?;
    }
    db.close().await.ok();

    let database = File::open(&snapshot).context("cannot read the snapshot")?;
    let size = database.metadata()?.len();
    files.push(append(&mut tar, DATABASE, size, 0o600, database)?);
    let secret_path = settings.data_dir.join(SECRET);
    match File::open(&secret_path) {
        Ok(secret) => {
            let size = secret.metadata()?.len();
            files.push(append(&mut tar, SECRET, size, 0o600, secret)?);
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", secret_path.display()));
        }
    }
    let photo_count = (rows.len() - dropped.len()) as u64;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        created_at: Utc::now(),
        partypic_version: env!("CARGO_PKG_VERSION").to_owned(),
        photos: photo_count,
        dropped_photos: dropped.clone(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    append(
        &mut tar,
        MANIFEST,
        json.len() as u64,
        0o644,
        json.as_slice(),
    )?;
    let bytes = finish_archive(tar, target)?;
    Ok(BackupReport {
        photos: photo_count,
        files: manifest.files.len(),
        bytes,
        dropped_photos: dropped,
    })
}

/// Copies one stored object into the archive; `None` when it no longer exists.
fn copy_object<W: Write>(
    tar: &mut tar::Builder<W>,
    photos: &Path,
    key: &str,
) -> anyhow::Result<Option<FileEntry>> {
    // Keys come from our own database, but only a parsed key becomes a path.
    let Some(parsed) = PhotoKey::parse(key) else {
        return Ok(None);
    };
    let path = photos
        .join(parsed.event_id.to_string())
        .join(parsed.file_name());
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    // Files are moved into place whole and never rewritten: the open file is the photo.
    let size = file.metadata()?.len();
    append(tar, &format!("{PHOTOS}/{key}"), size, 0o644, file).map(Some)
}

/// The files of an archive unpacked into a directory, each with its size and checksum.
pub struct Unpacked {
    pub files: BTreeMap<String, FileEntry>,
    /// The named JSON entry (manifest), read into memory instead of onto disk.
    pub json: Option<Vec<u8>>,
}

/// Unpacks `archive` into `into`, accepting only regular files that `allowed` accepts, each
/// once; the entry called `json_name` is kept in memory.
pub fn unpack(
    archive: &Path,
    into: &Path,
    json_name: &str,
    allowed: impl Fn(&str) -> bool,
) -> anyhow::Result<Unpacked> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let mut files = BTreeMap::new();
    let mut json = None;
    let corrupt = |what: String| {
        anyhow::anyhow!(
            "{} is damaged or not a PartyPic archive: {what}",
            archive.display()
        )
    };
    for entry in tar.entries().map_err(|e| corrupt(e.to_string()))? {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| corrupt("an entry name is not UTF-8".into()))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(corrupt(format!("{path} is not a regular file")));
        }
        if path == json_name {
            if json.is_some() {
                return Err(corrupt(format!("{path} appears twice")));
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(e.to_string()))?;
            json = Some(bytes);
            continue;
        }
        if !allowed(&path) {
            return Err(corrupt(format!("unexpected entry {path}")));
        }
        if files.contains_key(&path) {
            return Err(corrupt(format!("{path} appears twice")));
        }
        let target = into.join(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out =
            File::create(&target).with_context(|| format!("cannot write {}", target.display()))?;
        let mut hashing = Hashing::new(&mut entry);
        std::io::copy(&mut hashing, &mut out).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::InvalidData => corrupt(e.to_string()),
            _ => anyhow::Error::new(e).context(format!("cannot write {}", target.display())),
        })?;
        out.sync_all()?;
        let (size, sha256) = hashing.finish();
        files.insert(path.clone(), FileEntry { path, size, sha256 });
    }
    Ok(Unpacked { files, json })
}

/// Checks that the unpacked files are exactly the listed ones, byte for byte.
pub fn verify(archive: &Path, listed: &[FileEntry], unpacked: &Unpacked) -> anyhow::Result<()> {
    for entry in listed {
        match unpacked.files.get(&entry.path) {
            Some(found) if found == entry => {}
            Some(_) => bail!(
                "{} is damaged: the checksum of {} does not match",
                archive.display(),
                entry.path
            ),
            None => bail!(
                "{} is incomplete: {} is missing",
                archive.display(),
                entry.path
            ),
        }
    }
    if unpacked.files.len() != listed.len() {
        bail!(
            "{} holds files its manifest does not list",
            archive.display()
        );
    }
    Ok(())
}

fn is_backup_entry(path: &str) -> bool {
    path == DATABASE
        || path == SECRET
        || path
            .strip_prefix("photos/")
            .is_some_and(|key| PhotoKey::parse(key).is_some())
}

/// Whether `dir` is missing or an empty directory.
fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotADirectory => Ok(false),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// Restores `archive` into the empty DATA_DIR, all or nothing.
pub async fn restore(settings: &Settings, archive: &Path) -> anyhow::Result<RestoreReport> {
    embedded_paths(settings, "restore")?;
    let data_dir = &settings.data_dir;
    if !is_empty_dir(data_dir)? {
        return refuse(format!(
            "DATA_DIR {} is not empty: restore only into an empty directory",
            data_dir.display()
        ));
    }
    if !archive.is_file() {
        return refuse(format!("{} is not a file", archive.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    // Removed on every early return: a failed restore leaves DATA_DIR empty.
    let staging = tempfile::Builder::new()
        .prefix(".restoring-")
        .tempdir_in(data_dir)
        .with_context(|| format!("cannot write to {}", data_dir.display()))?;

    let unpacked = unpack(archive, staging.path(), MANIFEST, is_backup_entry)?;
    let Some(json) = &unpacked.json else {
        bail!("{} is incomplete: it has no manifest", archive.display());
    };
    let manifest: Manifest = serde_json::from_slice(json)
        .with_context(|| format!("{} has an unreadable manifest", archive.display()))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        bail!(
            "{} is a {} archive version {}, not a PartyPic backup version {VERSION}",
            archive.display(),
            manifest.format,
            manifest.version
        );
    }
    verify(archive, &manifest.files, &unpacked)?;
    if !unpacked.files.contains_key(DATABASE) {
        bail!("{} holds no database", archive.display());
    }
    check_database(&staging.path().join(DATABASE), staging.path()).await?;

    // The database goes last: a DATA_DIR with a database is a restored one.
    let mut moved = Vec::new();
    for name in [PHOTOS, SECRET, DATABASE] {
        let from = staging.path().join(name);
        if !from.exists() {
            continue;
        }
        let to = data_dir.join(name);
        if let Err(err) = std::fs::rename(&from, &to) {
            for path in moved {
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
            return Err(err).with_context(|| format!("cannot move {} into place", to.display()));
        }
        moved.push(to);
    }
    Ok(RestoreReport {
        photos: manifest.photos,
        files: manifest.files.len(),
    })
}

/// The restored database is intact and every file it references was restored.
async fn check_database(path: &Path, root: &Path) -> anyhow::Result<()> {
    let mut db = connect(path).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await?;
    if integrity != "ok" {
        bail!("the archived database is damaged: {integrity}");
    }
    let keys: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT s3_key, thumb_key, display_key FROM pictures")
            .fetch_all(&mut db)
            .await?;
    db.close().await.ok();
    for key in keys
        .iter()
        .flat_map(|(key, thumb, display)| std::iter::once(key).chain(thumb).chain(display))
    {
        if !root.join(PHOTOS).join(key).is_file() {
            bail!("the archived database references {key}, which the archive does not hold");
        }
    }
    Ok(())
}
