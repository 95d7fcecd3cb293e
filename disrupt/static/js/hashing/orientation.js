// EXIF orientation for WebP. Pillow's ImageOps.exif_transpose applies it to every
// format; Chromium applies it to JPEG and PNG but (as of 156) not to WebP. The
// worker probes once whether this browser applies it (a tiny embedded WebP) and,
// if not, applies the orientation itself, so that both sides agree.

// 2x1 lossless WebP: red, blue; EXIF orientation 3 (rotate 180).
export const PROBE_WEBP_BASE64 =
  "UklGRlIAAABXRUJQVlA4WAoAAAAIAAAAAQAAAAAAVlA4TBEAAAAvAQAAAA8Q87//8x8OMqL/AQBFWElGGgAAAE1NACoAAAAIAAEBEgADAAAAAQADAAAAAAAA";

function fourcc(b, i) {
  return String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
}

// Orientation (1..8) from the EXIF chunk of a WebP file; 1 when absent/invalid.
export function webpOrientation(bytes) {
  if (bytes.length < 12 || fourcc(bytes, 0) !== "RIFF" || fourcc(bytes, 8) !== "WEBP") return 1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const tag = fourcc(bytes, pos);
    const size = dv.getUint32(pos + 4, true);
    const start = pos + 8;
    if (tag === "EXIF") return tiffOrientation(bytes.subarray(start, Math.min(start + size, bytes.length)));
    pos = start + size + (size & 1);
  }
  return 1;
}

function tiffOrientation(t) {
  let off = 0;
  if (t.length >= 6 && t[0] === 0x45 && t[1] === 0x78 && t[2] === 0x69 && t[3] === 0x66 && t[4] === 0 && t[5] === 0) off = 6;
  if (t.length < off + 8) return 1;
  const dv = new DataView(t.buffer, t.byteOffset + off, t.byteLength - off);
  const little = t[off] === 0x49 && t[off + 1] === 0x49;
  if (!little && !(t[off] === 0x4d && t[off + 1] === 0x4d)) return 1;
  const ifd = dv.getUint32(4, little);
  if (ifd + 2 > dv.byteLength) return 1;
  const n = dv.getUint16(ifd, little);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > dv.byteLength) break;
    if (dv.getUint16(e, little) === 0x0112) {
      const type = dv.getUint16(e + 2, little);
      const v = type === 3 ? dv.getUint16(e + 8, little) : type === 4 ? dv.getUint32(e + 8, little) : 1;
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

// Apply an EXIF orientation to straight RGBA pixels, as Pillow's exif_transpose:
// 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270,
// 7 TRANSVERSE, 8 ROTATE_90. Returns {data, width, height}.
export function orientRgba(src, w, h, o) {
  if (o <= 1 || o > 8) return { data: src, width: w, height: h };
  const swap = o >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const s32 = new Uint32Array(src.buffer, src.byteOffset, w * h);
  const out = new Uint8ClampedArray(W * H * 4);
  const d32 = new Uint32Array(out.buffer);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx;
      let sy;
      switch (o) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break; // 8
      }
      d32[y * W + x] = s32[sy * w + sx];
    }
  }
  return { data: out, width: W, height: H };
}
