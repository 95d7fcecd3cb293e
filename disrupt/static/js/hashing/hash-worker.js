// Module Web Worker: reads, decodes and hashes one file at a time, off the page's
// main thread. Messages in:  {id, op: "hash", file, wantPixelDigest}
//                            {op: "test-canvas-noise"}   (tests only, see below)
// Messages out: {id, type: "progress", stage, fraction}
//               {id, type: "result", result, pixelsSha256?}
//               {id, type: "error", name, message}

import { PIPELINE_VERSION, sniffKind } from "./media.js";
import { md5 } from "./md5.js";
import { perceptualHashes } from "./hash-core.js";
import { PROBE_WEBP_BASE64, orientRgba, webpOrientation } from "./orientation.js";

function hex(buffer) {
  const b = new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

class HashError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

const MESSAGES = {
  unsupported:
    "This file is not a photo or video we can read. Please choose a JPEG, PNG, WebP, GIF or " +
    "HEIC image, or an MP4, MOV, WebM, MKV or AVI video.",
  decode: "We could not read this image: the file may be damaged or incomplete.",
  tooLarge: "This image is too large to process (over 178 megapixels).",
};
const MAX_PIXELS = 178956970; // = pipeline.MAX_PIXELS (Pillow's decompression-bomb limit)

const DECODE_OPTIONS = {
  colorSpaceConversion: "none",
  premultiplyAlpha: "none",
  imageOrientation: "from-image",
};

function readPixels(bitmap) {
  const { width, height } = bitmap;
  // willReadFrequently keeps the canvas in CPU memory (software raster), which is
  // what makes getImageData reproducible.
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true, alpha: true });
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, width, height).data;
  canvas.width = 1; // release the backing store early
  return data;
}

// Does this browser apply EXIF orientation to WebP itself? (Chromium 156: no.)
let webpProbe = null;
function browserOrientsWebp() {
  if (!webpProbe) {
    webpProbe = (async () => {
      const bin = atob(PROBE_WEBP_BASE64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const bmp = await createImageBitmap(new Blob([bytes], { type: "image/webp" }), DECODE_OPTIONS);
      const px = readPixels(bmp);
      bmp.close();
      return px[0] < px[2]; // left pixel blue: rotated by the browser
    })();
  }
  return webpProbe;
}

// HEIC/HEIF (the iPhone's format): no browser decodes it, so libheif compiled to WebAssembly
// does, loaded from DISRUPT itself the first time a HEIC photo is picked. It is the same
// libheif (and HEVC decoder) as the server's pillow-heif: the pixels, hence the hashes, are
// the same (tests/hashing/test_heic_browser.py). libheif applies the HEIF rotation and
// mirror itself, as pillow-heif does.
let libheif = null;
async function decodeHeif(buf) {
  if (!libheif) {
    const { default: factory } = await import("../../vendor/libheif/libheif-bundle.mjs");
    libheif = factory();
  }
  let images = [];
  try {
    images = new libheif.HeifDecoder().decode(new Uint8Array(buf)) || [];
  } catch (e) {
    images = [];
  }
  const image = images.find((i) => i.is_primary()) || images[0];
  if (!image) throw new HashError("UnsupportedMedia", MESSAGES.decode);
  const width = image.get_width();
  const height = image.get_height();
  if (width * height > MAX_PIXELS) throw new HashError("UnsupportedMedia", MESSAGES.tooLarge);
  const target = { data: new Uint8ClampedArray(width * height * 4), width, height };
  const decoded = await new Promise((resolve) => image.display(target, resolve));
  for (const other of images) other.free();
  if (!decoded) throw new HashError("UnsupportedMedia", MESSAGES.decode);
  return { width, height, pixels: decoded.data };
}

async function hashOne(id, file, wantPixelDigest) {
  const progress = (stage, fraction) => self.postMessage({ id, type: "progress", stage, fraction });
  progress("reading", 0);
  const buf = await file.arrayBuffer();
  const kind = sniffKind(new Uint8Array(buf, 0, Math.min(16, buf.byteLength)));
  if (kind === "avif" || kind === null) {
    throw new HashError("UnsupportedMedia", MESSAGES.unsupported);
  }
  progress("sha256", 0.1);
  const sha256 = hex(await crypto.subtle.digest("SHA-256", buf));
  if (kind === "video") {
    progress("md5", 0.5);
    const result = { kind: "video", sha256, md5: md5(buf), pipeline: PIPELINE_VERSION };
    progress("done", 1);
    return { result };
  }
  progress("decoding", 0.2);
  let width, height, pixels;
  if (kind === "heif") {
    ({ width, height, pixels } = await decodeHeif(buf));
  } else {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, DECODE_OPTIONS);
    } catch (e) {
      throw new HashError("UnsupportedMedia", MESSAGES.decode);
    }
    ({ width, height } = bitmap);
    if (width * height > MAX_PIXELS) {
      bitmap.close();
      throw new HashError("UnsupportedMedia", MESSAGES.tooLarge);
    }
    pixels = readPixels(bitmap);
    bitmap.close();
  }
  if (kind === "webp") {
    const o = webpOrientation(new Uint8Array(buf));
    if (o !== 1 && !(await browserOrientsWebp())) {
      ({ data: pixels, width, height } = orientRgba(pixels, width, height, o));
    }
  }
  progress("hashing", 0.4);
  let pixelsSha256;
  if (wantPixelDigest) pixelsSha256 = hex(await crypto.subtle.digest("SHA-256", pixels));
  const ph = perceptualHashes(pixels, width, height);
  const result = {
    pdq: ph.pdq,
    pdq_quality: ph.pdq_quality,
    phash: ph.phash,
    sha256,
    width,
    height,
    pipeline: PIPELINE_VERSION,
  };
  progress("done", 1);
  return { result, pixelsSha256 };
}

// Test hook (harmless): simulates a browser's anti-fingerprinting canvas noise by
// flipping the low bit of some samples returned by getImageData in this worker.
// It can only make hashes wrong, which selfTest() then detects and refuses.
function installTestCanvasNoise() {
  const proto = OffscreenCanvasRenderingContext2D.prototype;
  if (proto.__disruptNoise) return;
  const original = proto.getImageData;
  proto.getImageData = function (...args) {
    const img = original.apply(this, args);
    const d = img.data;
    for (let i = 0; i < d.length; i += 4 * 7) d[i] ^= 1;
    return img;
  };
  proto.__disruptNoise = true;
}

// One file at a time: a 12 MP photo needs ~150 MB while it is being hashed.
let queue = Promise.resolve();
self.onmessage = (ev) => {
  const msg = ev.data;
  if (msg.op === "test-canvas-noise") {
    installTestCanvasNoise();
    return;
  }
  if (msg.op !== "hash") return;
  queue = queue.then(async () => {
    try {
      const { result, pixelsSha256 } = await hashOne(msg.id, msg.file, msg.wantPixelDigest);
      self.postMessage({ id: msg.id, type: "result", result, pixelsSha256 });
    } catch (e) {
      self.postMessage({
        id: msg.id,
        type: "error",
        name: e && e.name === "UnsupportedMedia" ? "UnsupportedMedia" : "HashingError",
        message: (e && e.message) || String(e),
      });
    }
  });
};
