// Photo uploads: downscale on the device, then init → PUT → finalize. Every photo is stored in
// IndexedDB first, so a photo taken offline (or interrupted by a closed tab) is sent later.
import { api, API_BASE, ApiError } from './api.js';
import { t } from './i18n.js';
import { uid } from './dom.js';

export const MAX_EDGE = 2560;
const ALLOWED = ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif', 'image/gif'];

/**
 * @typedef {{id: string, sessionId: string, userId: string, uName: string, missionId: string | null,
 *   filename: string, blob: Blob, state: 'preparing' | 'queued' | 'uploading' | 'failed', error?: string,
 *   progress: number, created: number, api?: string}} Job
 */

/** @type {Promise<IDBDatabase> | null} */
let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('partypic', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('uploads', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

/** @template T @param {'readonly' | 'readwrite'} mode @param {(s: IDBObjectStore) => IDBRequest<T>} fn @returns {Promise<T>} */
async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const req = fn(d.transaction('uploads', mode).objectStore('uploads'));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
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
  return !(e instanceof ApiError) || e.status === 0 || e.status === 408 || e.status === 429 || e.status >= 500;
}

/**
 * One guest's upload queue for one event. Emits `change` (the job list changed) and
 * `uploaded` (detail: the new picture).
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
    this.delay = 2000;
    /** @type {Promise<void>} */
    this.preparing = Promise.resolve();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.onOnline = () => { this.delay = 2000; this.run(); };
    window.addEventListener('online', this.onOnline);
  }

  /** Pick up photos left over from an earlier visit (offline, closed tab). */
  async restore() {
    try {
      /** @type {Job[]} */
      const all = await tx('readonly', (s) => s.getAll());
      for (const job of all) {
        if (job.sessionId !== this.sessionId || job.userId !== this.guest.id) continue;
        if (job.state === 'uploading' || job.state === 'preparing') job.state = 'queued';
        this.jobs.set(job.id, job);
      }
    } catch { /* private mode without IndexedDB: queue in memory only */ }
    this.changed();
    this.run();
  }

  destroy() {
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
  }

  get pending() {
    return [...this.jobs.values()].filter((j) => j.state !== 'failed').length;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Queue a photo. Downscaling runs one photo at a time, so choosing 30 photos from the phone's
   * gallery does not decode 30 full-size images at once on a cheap phone.
   * @param {Blob} blob @param {string} filename @param {string | null} missionId
   * @param {boolean} [prepared]  already a downscaled JPEG (from the in-app camera)
   */
  add(blob, filename, missionId, prepared = false) {
    /** @type {Job} */
    const job = {
      id: uid(), api: API_BASE, sessionId: this.sessionId, userId: this.guest.id, uName: this.guest.name,
      missionId, filename, blob, state: 'preparing', progress: 0, created: Date.now(),
    };
    this.jobs.set(job.id, job);
    this.changed();
    this.preparing = this.preparing.then(async () => {
      try {
        if (!prepared) job.blob = await downscale(blob);
        job.state = 'queued';
      } catch (e) {
        job.state = 'failed';
        job.error = /** @type {Error} */ (e).message;
      }
      if (!this.jobs.has(job.id)) return; // removed meanwhile
      await this.save(job);
      this.changed();
      this.run();
    });
    return this.preparing;
  }

  /** @param {Job} job */
  async save(job) {
    try { await tx('readwrite', (s) => s.put(job)); } catch { /* memory only */ }
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
    if (!job) return;
    job.state = 'queued';
    job.error = undefined;
    this.delay = 2000;
    this.changed();
    this.run();
  }

  async run() {
    clearTimeout(this.timer);
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        const job = [...this.jobs.values()].find((j) => j.state === 'queued');
        if (!job) break;
        if (!navigator.onLine) { job.error = t('upload.offline'); this.changed(); syncLater(); break; }
        try {
          await this.send(job);
          this.delay = 2000;
        } catch (e) {
          const message = /** @type {Error} */ (e).message;
          if (transient(e)) {
            job.state = 'queued';
            job.error = navigator.onLine ? message : t('upload.offline');
            job.progress = 0;
            this.changed();
            this.timer = setTimeout(() => this.run(), this.delay);
            syncLater();
            this.delay = Math.min(this.delay * 2, 60_000);
            break;
          }
          job.state = 'failed';
          job.error = message;
          await this.save(job);
          this.changed();
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** @param {Job} job */
  async send(job) {
    job.state = 'uploading';
    job.error = undefined;
    job.progress = 0;
    this.changed();
    const type = job.blob.type || 'image/jpeg';
    const init = await api('/pictures/init-upload', {
      body: { session_id: job.sessionId, mimetype: type, user_id: job.userId },
    });
    let last = 0;
    await put(init.uploadUrl, job.blob, type, (f) => {
      job.progress = f;
      if (f - last > 0.04 || f === 1) { last = f; this.changed(); }
    });
    const picture = await api('/pictures/finalize-upload', {
      body: {
        u_name: job.uName, session_id: job.sessionId, s3_key: init.key, original_filename: job.filename,
        filesize_bytes: job.blob.size, mimetype: type, mission_id: job.missionId, user_id: job.userId,
      },
    });
    this.jobs.delete(job.id);
    try { await tx('readwrite', (s) => s.delete(job.id)); } catch { /* memory only */ }
    this.changed();
    this.dispatchEvent(new CustomEvent('uploaded', { detail: picture }));
  }
}
