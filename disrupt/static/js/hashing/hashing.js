// Browser hashing of a victim's photos and videos (DESIGN.md §5, docs/hashing.md).
// Plain ES module, no build step, nothing fetched from elsewhere. Only the hash
// strings ever leave the device.
//
//   import { hashFile, selfTest, CanvasNoiseError } from "/static/js/hashing/hashing.js";
//   await selfTest();                       // throws CanvasNoiseError if unusable
//   const h = await hashFile(file, { onProgress: (p) => ... });
//
// hashFile(image) -> {pdq, pdq_quality, phash, sha256, width, height, pipeline}
// hashFile(video) -> {kind: "video", sha256, md5, pipeline}
// Both equal disrupt.hashing.pipeline.hash_media_file() on the same file.

import { PIPELINE_VERSION, sniffKind } from "./media.js";
import {
  SELFTEST_EXPECTED,
  SELFTEST_PIXELS_SHA256,
  SELFTEST_PNG_BASE64,
} from "./selftest-image.js";

export { PIPELINE_VERSION, sniffKind };

/** The browser alters what a canvas returns (anti-fingerprinting): hashes would be wrong. */
export class CanvasNoiseError extends Error {
  constructor(message) {
    super(
      message ||
        "Your browser changes the pixels of pictures slightly to protect your privacy " +
          "(anti-fingerprinting). That protection is good, but it means the fingerprints we " +
          "compute here would not match your photos. Nothing has been sent. Please try " +
          "another browser (for example Chrome, Edge or Safari in a normal window), or turn " +
          "off fingerprinting protection for this site only, then try again.",
    );
    this.name = "CanvasNoiseError";
  }
}

/** The file is not an image or video we can hash (message is for the victim). */
export class UnsupportedMediaError extends Error {
  constructor(message) {
    super(message);
    this.name = "UnsupportedMediaError";
  }
}

/** Anything else that went wrong while hashing. */
export class HashingError extends Error {
  constructor(message) {
    super(message);
    this.name = "HashingError";
  }
}

const WEAK_MIN_QUALITY = 50;
const WEAK_MIN_SIDE = 5;

/** Same rule as pipeline.weakness(): a reason string, or null. */
export function weakness(result) {
  if (!result || !("pdq" in result)) return null;
  if (Math.min(result.width, result.height) < WEAK_MIN_SIDE) {
    return `The image is too small (${result.width}x${result.height} pixels): it cannot be matched reliably.`;
  }
  if (result.pdq_quality < WEAK_MIN_QUALITY) {
    return (
      `The image has too little detail (PDQ quality ${result.pdq_quality} < ${WEAK_MIN_QUALITY}), ` +
      "e.g. a flat or nearly uniform picture: matches would be unreliable."
    );
  }
  return null;
}

// ---------------------------------------------------------------------------
// Worker pool: at most two workers (each needs ~150 MB for a 12 MP photo).
const pool = [];
const pending = new Map();
let nextId = 1;

function poolSize() {
  const cores = (globalThis.navigator && navigator.hardwareConcurrency) || 2;
  return Math.max(1, Math.min(2, Math.floor(cores / 2)));
}

function newWorker() {
  const worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module" });
  const entry = { worker, busy: 0 };
  if (globalThis.__DISRUPT_TEST_CANVAS_NOISE__ === true) {
    // Test hook, see hash-worker.js: simulate anti-fingerprinting noise.
    worker.postMessage({ op: "test-canvas-noise" });
  }
  worker.onmessage = (ev) => {
    const msg = ev.data;
    const job = pending.get(msg.id);
    if (!job) return;
    if (msg.type === "progress") {
      if (job.onProgress) {
        try {
          job.onProgress({ stage: msg.stage, fraction: msg.fraction, file: job.file });
        } catch (e) {
          /* a failing progress callback must not break hashing */
        }
      }
      return;
    }
    pending.delete(msg.id);
    entry.busy--;
    if (msg.type === "result") job.resolve({ result: msg.result, pixelsSha256: msg.pixelsSha256 });
    else if (msg.name === "UnsupportedMedia") job.reject(new UnsupportedMediaError(msg.message));
    else job.reject(new HashingError(msg.message));
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    for (const [id, job] of pending) {
      if (job.entry === entry) {
        pending.delete(id);
        job.reject(new HashingError("The hashing worker failed: " + (ev.message || "unknown error")));
      }
    }
    entry.busy = 0;
    const i = pool.indexOf(entry);
    if (i >= 0) pool.splice(i, 1);
    worker.terminate();
  };
  pool.push(entry);
  return entry;
}

function pickWorker() {
  if (pool.length < poolSize() && pool.every((e) => e.busy > 0)) return newWorker();
  if (pool.length === 0) return newWorker();
  return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
}

function runInWorker(file, { onProgress, wantPixelDigest = false } = {}) {
  return new Promise((resolve, reject) => {
    const entry = pickWorker();
    const id = nextId++;
    pending.set(id, { resolve, reject, onProgress, file, entry });
    entry.busy++;
    entry.worker.postMessage({ id, op: "hash", file, wantPixelDigest });
  });
}

/**
 * Hash one File/Blob in a Web Worker.
 * @param {Blob} file
 * @param {{onProgress?: (p: {stage: string, fraction: number, file: Blob}) => void}} [options]
 * @returns {Promise<object>} the same object as the server's hash_media_file()
 */
export async function hashFile(file, { onProgress } = {}) {
  if (!(file instanceof Blob)) throw new TypeError("hashFile expects a File or Blob");
  const { result } = await runInWorker(file, { onProgress });
  return result;
}

function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Hash the embedded known image and compare with the server's answer. Throws
 * CanvasNoiseError when this browser's canvas does not give the exact pixels
 * (anti-fingerprinting noise) or the hashes differ. Resolves to the result.
 */
export async function selfTest() {
  const file = new File([base64ToBytes(SELFTEST_PNG_BASE64)], "selftest.png", { type: "image/png" });
  let out;
  try {
    out = await runInWorker(file, { wantPixelDigest: true });
  } catch (e) {
    if (e instanceof UnsupportedMediaError) throw new CanvasNoiseError();
    throw e;
  }
  const { result, pixelsSha256 } = out;
  if (pixelsSha256 !== SELFTEST_PIXELS_SHA256) throw new CanvasNoiseError();
  for (const key of Object.keys(SELFTEST_EXPECTED)) {
    if (result[key] !== SELFTEST_EXPECTED[key]) throw new CanvasNoiseError();
  }
  return result;
}
