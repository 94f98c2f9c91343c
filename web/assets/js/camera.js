// The in-app camera: a live viewfinder (getUserMedia), shutter, front/back switch. Each shot is
// handed to `onPhoto` at once so the camera stays open for the next one.
import { h, icon, toast } from './dom.js';
import { t } from './i18n.js';
import { MAX_EDGE } from './upload.js';

/** @param {{onPhoto: (b: Blob) => void, onClose?: () => void}} opts */
export async function openCamera(opts) {
  if (!navigator.mediaDevices?.getUserMedia) {
    toast(t('camera.unavailable'), 'error');
    return;
  }
  /** @type {'environment' | 'user'} */
  let facing = 'environment';
  /** @type {MediaStream | null} */
  let stream = null;
  let shots = 0;
  const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, muted: true, playsInline: true, 'aria-label': t('camera.viewfinder') }));
  video.setAttribute('playsinline', '');
  const counter = h('span.counter', { role: 'status', 'aria-live': 'polite' });
  const flash = h('div.flash');
  const shutter = h('button.shutter', { type: 'button', 'aria-label': t('camera.shutter'), onclick: shoot });
  const flip = h('button.round', { type: 'button', 'aria-label': t('camera.switch'), onclick: switchCamera }, icon('flip'));
  const close = h('button.round', { type: 'button', 'aria-label': t('action.close'), onclick: () => dialog.close() }, '×');
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog.camera', { 'aria-label': t('camera.title') },
    video, flash, h('div.camera-bar', null, close, shutter, flip), counter));
  dialog.addEventListener('close', () => {
    stop();
    dialog.remove();
    opts.onClose?.();
  });
  dialog.addEventListener('keydown', (e) => {
    if (e.key === ' ' && e.target === dialog) { e.preventDefault(); shoot(); }
  });
  document.body.append(dialog);
  dialog.showModal();
  shutter.focus();

  function stop() {
    stream?.getTracks().forEach((tr) => tr.stop());
    stream = null;
  }

  async function start() {
    stop();
    shutter.disabled = flip.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: facing }, width: { ideal: 2560 }, height: { ideal: 1920 } },
      });
      video.srcObject = stream;
      video.classList.toggle('mirror', facing === 'user');
      await video.play().catch(() => {});
      shutter.disabled = flip.disabled = false;
    } catch (e) {
      toast(t('camera.denied'), 'error');
      dialog.close();
    }
  }

  async function switchCamera() {
    facing = facing === 'environment' ? 'user' : 'environment';
    await start();
  }

  function shoot() {
    if (!video.videoWidth) return;
    const scale = Math.min(1, MAX_EDGE / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).drawImage(video, 0, 0, canvas.width, canvas.height);
    flash.classList.remove('go');
    void flash.offsetWidth;
    flash.classList.add('go');
    canvas.toBlob((blob) => {
      if (!blob) return;
      shots++;
      counter.textContent = t('camera.shots', { n: shots });
      opts.onPhoto(blob);
    }, 'image/jpeg', 0.88);
  }

  await start();
}
