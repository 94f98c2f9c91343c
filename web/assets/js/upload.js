// Photo uploads: downscale on the device, then init → PUT → finalize. Every photo is stored in
// IndexedDB first, so a photo taken offline (or interrupted by a closed tab) is sent later.
import { api, API_BASE, ApiError } from './api.js';
import { t, errorMessage } from './i18n.js';
import { uid } from './dom.js';

export const MAX_EDGE = 2560;
/** Files above this size go in parts (resumable); smaller ones in one PUT. */
export const MULTIPART_ABOVE = 8 * 1024 * 1024;
const ALLOWED = ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif', 'image/gif'];
/** Clips go as they are: the server probes them and makes the guests' MP4. */
const VIDEO = ['video/mp4', 'video/quicktime', 'video/webm'];

/**
 * A photo in the queue. `prepared`: `blob` is what is sent (downscaled); until then it is the
 * original file. `keys`: the upload keys this photo was sent under, so a resumed photo the server
 * already has is recognised as this one, not as a duplicate. `final`: the server refused it for
 * good (no Retry). `persisted`: stored in IndexedDB (false when the browser refused to store it).
 * `multipart`: a large file's open resumable upload, so a reload continues from the parts the
 * server confirmed.
 * @typedef {{id: string, sessionId: string, userId: string, uName: string, missionId: string | null,
 *   filename: string, blob: Blob, state: 'preparing' | 'queued' | 'uploading' | 'failed', prepared: boolean,
 *   code?: string, error?: string, final?: boolean, keys: string[], progress: number, created: number,
 *   api?: string, persisted?: boolean, multipart?: Multipart}} Job
 */

/**
 * @typedef {{uploadId: string, key: string, partSize: number, partCount: number, done: number[],
 *   completed: boolean}} Multipart
 */

/**
 * Error codes after which sending the same photo again cannot succeed. `upload.unsupported` is
 * this client's own (the browser could not read the file).
 */
export const FINAL = new Set(['upload.unsupported', 'upload.not_an_image', 'upload.unsupported_type', 'upload.empty',
  'upload.too_large', 'upload.limit_reached', 'event.ended', 'event.not_found', 'guest.not_found', 'guest.other_event',
  'upload.key_other_event', 'request.body_too_large', 'upload.videos_disabled', 'upload.video_unsupported',
  'upload.video_unreadable', 'upload.video_too_long']);

/** The guest-facing text of a job's error, in the current language. @param {Job} job */
export function jobError(job) {
  if (job.code === 'upload.unsupported') return t('upload.unsupported');
  return errorMessage(job.code) ?? job.error ?? t('upload.failed');
}

/** @type {Promise<IDBDatabase> | null} */
let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('partypic', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('uploads', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  dbPromise.catch(() => { dbPromise = null; });
  return dbPromise;
}

/**
 * One request in its own transaction; resolves once the transaction has committed (a write that
 * exceeds the storage quota fails at commit, after its request succeeded).
 * @template T @param {'readonly' | 'readwrite'} mode @param {(s: IDBObjectStore) => IDBRequest<T>} fn @returns {Promise<T>}
 */
async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction('uploads', mode);
    const req = fn(t.objectStore('uploads'));
    t.oncomplete = () => resolve(req.result);
    t.onabort = () => reject(t.error || req.error);
    t.onerror = () => reject(t.error || req.error);
  });
}

/**
 * Runs `fn` unless another tab or the service worker is sending this photo right now (Web Locks,
 * where the browser has them); then answers 'busy'.
 * @template T @param {string} id @param {() => Promise<T>} fn @returns {Promise<T | 'busy'>}
 */
export function exclusive(id, fn) {
  const locks = /** @type {LockManager | undefined} */ (navigator.locks);
  if (!locks) return fn();
  return /** @type {Promise<T | 'busy'>} */ (locks.request(`partypic-upload-${id}`, { ifAvailable: true },
    (lock) => (lock ? fn() : 'busy')));
}

/** @param {Blob} blob @returns {Promise<ImageBitmap | HTMLImageElement>} */
async function decode(blob) {
  if ('createImageBitmap' in window) {
    try { return await createImageBitmap(blob, { imageOrientation: 'from-image' }); } catch { /* try <img> */ }
  }
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * Re-encode as JPEG no larger than MAX_EDGE. Re-encoding also drops EXIF (GPS) from what
 * every guest can download. Formats the browser cannot decode (HEIC) are sent as they are.
 * @param {Blob} blob
 * @returns {Promise<Blob>}
 */
export async function downscale(blob, max = MAX_EDGE, quality = 0.86) {
  if (VIDEO.includes(blob.type)) return blob;
  let src;
  try {
    src = await decode(blob);
  } catch {
    if (ALLOWED.includes(blob.type)) return blob;
    throw new Error(t('upload.unsupported'));
  }
  const w = 'naturalWidth' in src ? src.naturalWidth : src.width;
  const hgt = 'naturalHeight' in src ? src.naturalHeight : src.height;
  if (blob.type === 'image/gif') return blob; // keep animations
  const scale = Math.min(1, max / Math.max(w, hgt));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(hgt * scale);
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
  if ('close' in src) src.close();
  return new Promise((resolve, reject) => canvas.toBlob(
    (b) => (b ? resolve(b) : reject(new Error(t('upload.unsupported')))), 'image/jpeg', quality));
}

/**
 * PUT with upload progress (fetch cannot report it).
 * @param {string} url @param {Blob} blob @param {string} type @param {(f: number) => void} onProgress
 */
function put(url, blob, type, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', type);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(undefined);
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* S3 speaks XML */ }
      reject(ApiError.from(xhr.status, xhr.statusText, body));
    };
    xhr.onerror = () => reject(new ApiError(0, t('error.network')));
    xhr.send(blob);
  });
}

/**
 * An object store's refusal (S3 answers XML, e.g. 403 for a link that expired on the way) is
 * worth a fresh try with a new link, unless the photo itself is refused.
 * @param {unknown} e @returns {never}
 */
function storeRefusal(e) {
  if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 413 && !FINAL.has(e.code || '')) {
    throw new ApiError(e.status, errorMessage('upload.interrupted') || e.message, 'upload.interrupted');
  }
  throw e;
}

/**
 * Ask the service worker to send the queue when the connection returns, even if this page
 * is closed by then (Background Sync, where the browser has it).
 */
function syncLater() {
  navigator.serviceWorker?.ready
    .then((reg) => /** @type {any} */ (reg).sync?.register('partypic-uploads'))
    .catch(() => {});
}


/** Failures worth retrying by themselves: the network, the server's bad moments. @param {unknown} e */
function transient(e) {
  if (!(e instanceof ApiError)) return true;
  if (e.status === 0 || e.status === 408 || e.status === 429 || e.status >= 500) return true;
  // The upload link expired or the bytes did not (fully) arrive: a fresh init-upload fixes it.
  return e.code === 'upload.not_found' || e.code === 'storage.signature_invalid' || e.code === 'upload.interrupted';
}

const FIRST_DELAY = 2000;
const MAX_DELAY = 60_000;

/**
 * One guest's upload queue for one event. Every photo is in IndexedDB (the file itself) before
 * anything else is done with it; the queue resumes on load, when the connection returns, when
 * the page is shown again, and by itself with backoff. Emits `change` (the job list changed),
 * `uploaded` (detail: the new picture), `duplicate` (detail: the picture the event already had)
 * and `storage` (detail: the error when the browser refused to store a photo).
 */
export class Uploader extends EventTarget {
  /** @param {string} sessionId @param {{id: string, name: string}} guest */
  constructor(sessionId, guest) {
    super();
    this.sessionId = sessionId;
    this.guest = guest;
    /** @type {Map<string, Job>} */
    this.jobs = new Map();
    this.busy = false;
    this.again = false;
    this.delay = FIRST_DELAY;
    /** @type {Promise<void>} */
    this.preparing = Promise.resolve();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.asked = false;
    /** @type {Set<string>} photos being stored by `add` right now */
    this.adding = new Set();
    this.onOnline = () => { this.delay = FIRST_DELAY; this.run(); };
    this.onVisible = () => { if (document.visibilityState === 'visible') this.refresh(); };
    addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
  }

  /** Pick up photos left over from an earlier visit (reload, closed tab, offline). */
  async restore() {
    await this.refresh();
  }

  /**
   * Read the stored queue: adds photos this page does not know yet, drops those another tab or
   * the service worker has sent meanwhile, and sends what is waiting.
   */
  async refresh() {
    /** @type {Job[] | null} */
    let all = null;
    try { all = await tx('readonly', (s) => s.getAll()); } catch { /* no IndexedDB: memory only */ }
    if (all) {
      const stored = new Set();
      for (const job of all) {
        if (job.sessionId !== this.sessionId || job.userId !== this.guest.id || this.adding.has(job.id)) continue;
        stored.add(job.id);
        const mine = this.jobs.get(job.id);
        if (mine) {
          // The service worker may have given up on it meanwhile.
          if (job.state === 'failed' && mine.state === 'queued') Object.assign(mine, { state: 'failed', code: job.code, error: job.error, final: job.final });
          continue;
        }
        job.prepared ??= job.state !== 'preparing';
        job.keys ??= [];
        job.progress = 0;
        job.persisted = true;
        if (job.state === 'uploading') job.state = 'queued';
        this.jobs.set(job.id, job);
        if (!job.prepared) this.prepareLater(job);
      }
      for (const job of this.jobs.values()) {
        if (job.persisted && job.state !== 'uploading' && !stored.has(job.id)) this.jobs.delete(job.id);
      }
    }
    this.changed();
    this.delay = FIRST_DELAY;
    this.run();
  }

  destroy() {
    removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.timer);
  }

  /** How many photos are on their way, and how many need the guest. */
  counts() {
    let waiting = 0, failed = 0;
    for (const j of this.jobs.values()) j.state === 'failed' ? failed++ : waiting++;
    return { waiting, failed };
  }

  get pending() {
    return this.counts().waiting;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Queue a photo: stored first, then downscaled (one at a time, so choosing 30 photos does not
   * decode 30 full-size images at once on a cheap phone), then sent.
   * @param {Blob} blob @param {string} filename @param {string | null} missionId
   * @param {boolean} [prepared]  already a downscaled JPEG (from the in-app camera)
   */
  async add(blob, filename, missionId, prepared = false) {
    /** @type {Job} */
    const job = {
      id: uid(), api: API_BASE, sessionId: this.sessionId, userId: this.guest.id, uName: this.guest.name,
      missionId, filename, blob, prepared, state: prepared ? 'queued' : 'preparing', keys: [], progress: 0,
      created: Date.now(),
    };
    this.adding.add(job.id);
    await this.save(job);
    this.jobs.set(job.id, job);
    this.adding.delete(job.id);
    this.changed();
    this.askToKeep();
    if (prepared) this.run();
    else this.prepareLater(job);
    return job.id;
  }

  /** Wait until every photo chosen so far is downscaled. */
  prepared() {
    return this.preparing;
  }

  /** @param {Job} job */
  prepareLater(job) {
    this.preparing = this.preparing.then(() => this.prepare(job));
  }

  /** @param {Job} job */
  async prepare(job) {
    if (!this.jobs.has(job.id) || job.prepared) return;
    try {
      job.blob = await downscale(job.blob);
      job.prepared = true;
      job.state = 'queued';
    } catch {
      Object.assign(job, { state: 'failed', final: true, code: 'upload.unsupported' });
    }
    if (!this.jobs.has(job.id)) return; // removed meanwhile
    await this.save(job);
    this.changed();
    this.run();
  }

  /** Ask the browser not to evict the queue under storage pressure (once; it may say no). */
  askToKeep() {
    if (this.asked) return;
    this.asked = true;
    navigator.storage?.persist?.().catch(() => {});
  }

  /**
   * Store a job; when the browser refuses (storage full, private mode), keep it in memory and
   * tell the page, which shows it.
   * @param {Job} job
   */
  async save(job) {
    const { progress: _p, persisted: _s, ...record } = job;
    // Stored as waiting while it is being sent: whoever opens the queue next sends it again.
    if (record.state === 'uploading') record.state = 'queued';
    try {
      await tx('readwrite', (s) => s.put(record));
      job.persisted = true;
      return true;
    } catch (e) {
      job.persisted = false;
      this.dispatchEvent(new CustomEvent('storage', { detail: e }));
      return false;
    }
  }

  /** @param {string} id */
  async remove(id) {
    this.jobs.delete(id);
    try { await tx('readwrite', (s) => s.delete(id)); } catch { /* memory only */ }
    this.changed();
  }

  /** @param {string} id */
  retry(id) {
    const job = this.jobs.get(id);
    if (!job || job.final) return;
    Object.assign(job, { state: job.prepared ? 'queued' : 'preparing', error: undefined, code: undefined });
    if (!job.prepared) this.prepareLater(job);
    this.delay = FIRST_DELAY;
    this.save(job);
    this.changed();
    this.run();
  }

  /** Send what is waiting, one photo at a time; on a transient failure try again later. */
  async run() {
    if (this.busy) { this.again = true; return; }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.busy = true;
    let later = 0;
    try {
      do {
        this.again = false;
        for (const job of [...this.jobs.values()]) {
          if (job.state !== 'queued' || !this.jobs.has(job.id)) continue;
          if (!navigator.onLine) {
            later = this.delay;
            break;
          }
          const outcome = await this.attempt(job);
          if (outcome === 'retry') {
            later = this.delay;
            this.delay = Math.min(this.delay * 2, MAX_DELAY);
            break;
          }
          if (outcome === 'busy') later ||= 5000;
          else this.delay = FIRST_DELAY;
        }
      } while (this.again && !later);
    } finally {
      this.busy = false;
    }
    if (later) {
      this.timer = setTimeout(() => this.run(), later);
      syncLater();
    }
    this.changed();
  }

  /**
   * @param {Job} job
   * @returns {Promise<'done' | 'gone' | 'busy' | 'failed' | 'retry'>}
   */
  async attempt(job) {
    try {
      const outcome = await exclusive(job.id, async () => {
        // Another tab or the service worker may have sent it since this page read the queue.
        if (job.persisted) {
          const stored = await tx('readonly', (s) => s.get(job.id)).catch(() => job);
          if (!stored) return 'gone';
        }
        await this.send(job);
        return 'done';
      });
      if (outcome === 'gone') {
        this.jobs.delete(job.id);
        this.changed();
      }
      return outcome;
    } catch (e) {
      const err = /** @type {ApiError} */ (e);
      job.progress = 0;
      job.code = err.code;
      job.error = err.message;
      if (transient(err)) {
        job.state = 'queued';
        this.changed();
        return 'retry';
      }
      job.state = 'failed';
      job.final = !!err.code && FINAL.has(err.code);
      await this.save(job);
      this.changed();
      return 'failed';
    }
  }

  /** @param {Job} job */
  async send(job) {
    job.state = 'uploading';
    job.error = undefined;
    job.code = undefined;
    job.progress = 0;
    this.changed();
    const type = job.blob.type || 'image/jpeg';
    let key;
    if (job.blob.size > MULTIPART_ABOVE) {
      key = await this.sendInParts(job, type);
    } else {
      const init = await api('/pictures/init-upload', {
        body: { session_id: job.sessionId, mimetype: type, user_id: job.userId },
      });
      // Remember the key before the bytes go out: if this page dies after the server recorded the
      // photo, the next attempt gets the same photo back and knows it is this one.
      job.keys = [...job.keys, init.key].slice(-20);
      if (job.persisted) await this.save(job);
      let last = 0;
      await put(init.uploadUrl, job.blob, type, (f) => {
        job.progress = f;
        if (f - last > 0.04 || f === 1) { last = f; this.changed(); }
      }).catch(storeRefusal);
      key = init.key;
    }
    /** @type {import('./api.js').Picture} */
    const picture = await api('/pictures/finalize-upload', {
      body: {
        u_name: job.uName, session_id: job.sessionId, s3_key: key, original_filename: job.filename,
        filesize_bytes: job.blob.size, mimetype: type, mission_id: job.missionId, user_id: job.userId,
      },
    }).catch((e) => {
      // A completed upload the server no longer has (expired): start it over next time.
      if (e instanceof ApiError && e.code === 'upload.not_found') job.multipart = undefined;
      throw e;
    });
    // The server keeps one copy of identical content: another key means the event had it already.
    const duplicate = !!picture.s3_key && !job.keys.includes(picture.s3_key);
    this.jobs.delete(job.id);
    try { await tx('readwrite', (s) => s.delete(job.id)); } catch { /* memory only */ }
    this.changed();
    this.dispatchEvent(new CustomEvent(duplicate ? 'duplicate' : 'uploaded', { detail: picture }));
  }

  /**
   * A large file in parts: opens a resumable upload (or asks the server which parts of the open
   * one arrived), sends the missing parts, completes it; returns the key to finalize. The upload
   * is stored with the job after each confirmed part, so a reload or a lost connection costs at
   * most the part in flight.
   * @param {Job} job @param {string} type @returns {Promise<string>}
   */
  async sendInParts(job, type) {
    const base = `/sessions/${job.sessionId}/uploads/multipart`;
    const headers = { 'X-Guest-Id': job.userId };
    let mp = job.multipart;
    if (mp && !mp.completed) {
      try {
        const status = await api(`${base}/${mp.uploadId}`, { headers });
        mp.done = status.parts.map((/** @type {{part_number: number}} */ p) => p.part_number);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'upload.not_found') throw e;
        mp = undefined; // aborted or expired: start over
      }
    }
    if (!mp) {
      const started = await api(base, { body: { content_type: type, size: job.blob.size, user_id: job.userId } });
      mp = {
        uploadId: started.upload_id, key: started.s3_key, partSize: started.part_size,
        partCount: started.part_count, done: [], completed: false,
      };
      job.multipart = mp;
      job.keys = [...job.keys, mp.key].slice(-20);
      if (job.persisted) await this.save(job);
    }
    const upload = mp;
    const size = job.blob.size;
    const partBytes = (/** @type {number} */ n) => Math.min(upload.partSize, size - (n - 1) * upload.partSize);
    let confirmed = upload.done.reduce((sum, n) => sum + partBytes(n), 0);
    job.progress = confirmed / size;
    this.changed();
    while (!upload.completed) {
      const missing = [];
      for (let n = 1; n <= upload.partCount; n++) if (!upload.done.includes(n)) missing.push(n);
      for (let i = 0; i < missing.length; i += 100) {
        const batch = missing.slice(i, i + 100);
        const { parts } = await api(`${base}/${upload.uploadId}/parts`, { headers, body: { part_numbers: batch } });
        for (const { part_number: n, url } of parts) {
          const start = (n - 1) * upload.partSize;
          let last = 0;
          await put(url, job.blob.slice(start, start + partBytes(n)), type, (f) => {
            job.progress = (confirmed + f * partBytes(n)) / size;
            if (f - last > 0.1) { last = f; this.changed(); }
          }).catch((e) => {
            // The store no longer has the upload (aborted, expired): start over next time.
            if (e instanceof ApiError && e.status === 404) job.multipart = undefined;
            storeRefusal(e);
          });
          upload.done = [...upload.done, n];
          confirmed += partBytes(n);
          job.progress = confirmed / size;
          if (job.persisted) await this.save(job);
          this.changed();
        }
      }
      try {
        await api(`${base}/${upload.uploadId}/complete`, { headers, method: 'POST' });
        upload.completed = true;
        if (job.persisted) await this.save(job);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.code === 'upload.part_missing' || e.code === 'upload.part_size_mismatch') {
          // A part did not arrive whole after all: ask again which did, send the rest.
          const status = await api(`${base}/${upload.uploadId}`, { headers });
          upload.done = status.parts.map((/** @type {{part_number: number}} */ p) => p.part_number);
          confirmed = upload.done.reduce((sum, n) => sum + partBytes(n), 0);
          continue;
        }
        if (e.code === 'upload.not_found') {
          // Completed by an earlier attempt whose answer was lost, or gone: finalize tells.
          upload.completed = true;
          break;
        }
        throw e;
      }
    }
    return upload.key;
  }
}
