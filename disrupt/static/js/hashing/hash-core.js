// Pure, synchronous hashing arithmetic shared by the Web Worker (and by Node in
// tests). A bit-exact port of the server pipeline (disrupt/hashing/pipeline.py):
//   * Pillow 13.0.0: RGB->L conversion and Resample.c LANCZOS (8 bits per channel)
//   * imagehash 4.3.2 phash (scipy.fftpack DCT-II, median of the 8x8 block)
//   * pdqhash 0.2.8 (Meta's C++ PDQ, float32 arithmetic emulated with Math.fround)
// No DOM, no I/O. See docs/hashing.md.

const fround = Math.fround;

// ---------------------------------------------------------------------------
// The one 8-bit RGB rule (same as pipeline.to_rgb8): straight (unpremultiplied)
// RGBA in; alpha composited over white with out = round(c*a/255) + (255 - a).
// Opaque pixels are unchanged. Returns a new Uint8Array of packed RGB.
export function rgbaToRgb(rgba, width, height) {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, o = 0, p = 0; i < n; i++, p += 4, o += 3) {
    const a = rgba[p + 3];
    if (a === 255) {
      out[o] = rgba[p];
      out[o + 1] = rgba[p + 1];
      out[o + 2] = rgba[p + 2];
    } else {
      const w = 255 - a;
      out[o] = (((rgba[p] * a + 127) / 255) | 0) + w;
      out[o + 1] = (((rgba[p + 1] * a + 127) / 255) | 0) + w;
      out[o + 2] = (((rgba[p + 2] * a + 127) / 255) | 0) + w;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pillow "RGB" -> "L": L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
export function rgbToGrey(rgb, width, height) {
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[i] = (rgb[p] * 19595 + rgb[p + 1] * 38470 + rgb[p + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pillow Resample.c, LANCZOS, 8 bits per channel, single band ("L").
const PRECISION_BITS = 32 - 8 - 2;

function sinc(x) {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x) {
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

// Returns {ksize, bounds: Int32Array(2*outSize), kk: Int32Array(outSize*ksize)}
// with the coefficients already converted to fixed point (normalize_coeffs_8bpc).
export function precomputeCoeffs(inSize, outSize) {
  const in0 = 0.0;
  const in1 = inSize;
  let filterscale = (in1 - in0) / outSize;
  const scale = filterscale;
  if (filterscale < 1.0) filterscale = 1.0;
  const support = 3.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const pre = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      pre[base + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0.0) pre[base + x] /= ww;
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  const kk = new Int32Array(outSize * ksize);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < kk.length; i++) {
    const v = pre[i];
    kk[i] = v < 0 ? Math.trunc(-0.5 + v * one) : Math.trunc(0.5 + v * one);
  }
  return { ksize, bounds, kk };
}

function clip8(ss) {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Horizontal pass over rows [y0, y0+rows) of src (width inW) -> rows x outW.
function resampleHorizontal(src, inW, y0, rows, outW, c) {
  const out = new Uint8Array(outW * rows);
  const { ksize, bounds, kk } = c;
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < rows; yy++) {
    const rowBase = (yy + y0) * inW;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let ss = half;
      const sb = rowBase + xmin;
      for (let x = 0; x < xmax; x++) ss = (ss + src[sb + x] * kk[kb + x]) | 0;
      out[yy * outW + xx] = clip8(ss);
    }
  }
  return out;
}

// Vertical pass: src is width x inRows, take columns [x0, x0+cols) -> cols x outH.
function resampleVertical(src, width, x0, cols, outH, c) {
  const out = new Uint8Array(cols * outH);
  const { ksize, bounds, kk } = c;
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2];
    const ymax = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    for (let xx = 0; xx < cols; xx++) {
      let ss = half;
      let idx = ymin * width + x0 + xx;
      for (let y = 0; y < ymax; y++, idx += width) ss = (ss + src[idx] * kk[kb + y]) | 0;
      out[yy * cols + xx] = clip8(ss);
    }
  }
  return out;
}

// Image.resize((outW, outH), LANCZOS) for an "L" image.
// verticalFirst: Pillow 13 runs the vertical pass first when
// (inH - outH) > 0 && (inH - outH) > 2 * (inW - outW); see docs/hashing.md.
export function resizeLanczosL(src, inW, inH, outW, outH, order = "pillow13") {
  if (inW === outW && inH === outH) return src.slice();
  const needH = outW !== inW;
  const needV = outH !== inH;
  let verticalFirst = false;
  if (order === "pillow13") verticalFirst = inH - outH > 0 && inH - outH > 2 * (inW - outW);
  else if (order === "vertical") verticalFirst = true;
  const cv = precomputeCoeffs(inH, outH);
  const ch = precomputeCoeffs(inW, outW);
  if (!verticalFirst) {
    let cur = src;
    let w = inW;
    let vc = cv;
    if (needH) {
      const yFirst = cv.bounds[0];
      const yLast = cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1];
      const rows = needV ? yLast - yFirst : inH;
      const y0 = needV ? yFirst : 0;
      cur = resampleHorizontal(src, inW, y0, rows, outW, ch);
      w = outW;
      if (needV) {
        const b = cv.bounds.slice();
        for (let i = 0; i < outH; i++) b[i * 2] -= yFirst;
        vc = { ksize: cv.ksize, bounds: b, kk: cv.kk };
      }
    }
    if (needV) cur = resampleVertical(cur, w, 0, w, outH, vc);
    return cur;
  }
  // vertical first
  let cur = src;
  let w = inW;
  let hc = ch;
  if (needV) {
    const xFirst = needH ? ch.bounds[0] : 0;
    const xLast = needH ? ch.bounds[outW * 2 - 2] + ch.bounds[outW * 2 - 1] : inW;
    cur = resampleVertical(src, inW, xFirst, xLast - xFirst, outH, cv);
    w = xLast - xFirst;
    if (needH) {
      const b = ch.bounds.slice();
      for (let i = 0; i < outW; i++) b[i * 2] -= xFirst;
      hc = { ksize: ch.ksize, bounds: b, kk: ch.kk };
    }
  }
  if (needH) cur = resampleHorizontal(cur, w, 0, outH, outW, hc);
  return cur;
}

// ---------------------------------------------------------------------------
// imagehash.phash: 32x32 LANCZOS grey, scipy.fftpack.dct (type II, unnormalised)
// on axis 0 then axis 1, top-left 8x8, bit = coefficient > median.
const N32 = 32;
let COS32 = null;
function cos32() {
  if (!COS32) {
    COS32 = new Float64Array(N32 * N32);
    for (let k = 0; k < N32; k++) {
      for (let n = 0; n < N32; n++) COS32[k * N32 + n] = Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N32));
    }
  }
  return COS32;
}

export function phashFromGrey32(g) {
  const C = cos32();
  // axis 0 (down the columns), rows 0..7 of the result only
  const a = new Float64Array(8 * N32);
  for (let k = 0; k < 8; k++) {
    for (let j = 0; j < N32; j++) {
      let s = 0;
      for (let n = 0; n < N32; n++) s += g[n * N32 + j] * C[k * N32 + n];
      a[k * N32 + j] = 2 * s;
    }
  }
  const d = new Float64Array(64);
  for (let k = 0; k < 8; k++) {
    for (let l = 0; l < 8; l++) {
      let s = 0;
      for (let m = 0; m < N32; m++) s += a[k * N32 + m] * C[l * N32 + m];
      let v = 2 * s;
      if (Math.abs(v) < 1e-6) v = 0; // scipy gives exact zeros where the maths does
      d[k * 8 + l] = v;
    }
  }
  const sorted = Float64Array.from(d).sort();
  const med = (sorted[31] + sorted[32]) / 2;
  let hex = "";
  for (let q = 0; q < 16; q++) {
    let nib = 0;
    for (let b = 0; b < 4; b++) nib = (nib << 1) | (d[q * 4 + b] > med ? 1 : 0);
    hex += nib.toString(16);
  }
  return hex;
}

export function phashFromRgb(rgb, width, height) {
  const grey = rgbToGrey(rgb, width, height);
  const g32 = resizeLanczosL(grey, width, height, 32, 32);
  return phashFromGrey32(g32);
}

// ---------------------------------------------------------------------------
// PDQ (pdqhash 0.2.8 = Meta's C++ reference at full resolution).
let DCT64 = null;
function dctMatrix64() {
  if (!DCT64) {
    DCT64 = new Float32Array(16 * 64);
    const scale = fround(Math.sqrt(2.0 / 64.0));
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) {
        DCT64[i * 64 + j] = scale * Math.cos((Math.PI / 2.0 / 64.0) * (i + 1) * (2 * j + 1));
      }
    }
  }
  return DCT64;
}

export function pdqLuma(rgb, width, height) {
  const n = width * height;
  const luma = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    // numpy: (R*0.299 + G*0.587) + B*0.114 in float64, then astype(float32)
    luma[i] = rgb[p] * 0.299 + rgb[p + 1] * 0.587 + rgb[p + 2] * 0.114;
  }
  return luma;
}

function jaroszWindow(oldDim, newDim) {
  return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
}

// box1DFloat along every row (stride 1).
function boxRows(inp, out, numRows, numCols, win) {
  const half = Math.floor((win + 2) / 2);
  const p1 = half - 1;
  const p2 = win - half + 1;
  const p3 = numCols - win;
  const p4 = half - 1;
  for (let r = 0; r < numRows; r++) {
    const base = r * numCols;
    let li = base;
    let ri = base;
    let oi = base;
    let sum = 0;
    let cws = 0;
    for (let i = 0; i < p1; i++) {
      sum = fround(sum + inp[ri++]);
      cws++;
    }
    for (let i = 0; i < p2; i++) {
      sum = fround(sum + inp[ri++]);
      cws++;
      out[oi++] = sum / cws;
    }
    for (let i = 0; i < p3; i++) {
      sum = fround(sum + inp[ri++]);
      sum = fround(sum - inp[li++]);
      out[oi++] = sum / cws;
    }
    for (let i = 0; i < p4; i++) {
      sum = fround(sum - inp[li++]);
      cws--;
      out[oi++] = sum / cws;
    }
  }
}

// box1DFloat along every column (stride numCols); all columns advance together
// (same per-column operation order as the C++, better memory locality).
function boxCols(inp, out, numRows, numCols, win) {
  const half = Math.floor((win + 2) / 2);
  const p1 = half - 1;
  const p2 = win - half + 1;
  const p3 = numRows - win;
  const p4 = half - 1;
  const sums = new Float32Array(numCols);
  let li = 0;
  let ri = 0;
  let oi = 0;
  let cws = 0;
  for (let i = 0; i < p1; i++, ri++) {
    const b = ri * numCols;
    for (let j = 0; j < numCols; j++) sums[j] += inp[b + j];
    cws++;
  }
  for (let i = 0; i < p2; i++, ri++, oi++) {
    const b = ri * numCols;
    const o = oi * numCols;
    cws++;
    for (let j = 0; j < numCols; j++) {
      sums[j] += inp[b + j];
      out[o + j] = sums[j] / cws;
    }
  }
  for (let i = 0; i < p3; i++, ri++, li++, oi++) {
    const b = ri * numCols;
    const l = li * numCols;
    const o = oi * numCols;
    for (let j = 0; j < numCols; j++) {
      sums[j] += inp[b + j];
      sums[j] -= inp[l + j];
      out[o + j] = sums[j] / cws;
    }
  }
  for (let i = 0; i < p4; i++, li++, oi++) {
    const l = li * numCols;
    const o = oi * numCols;
    cws--;
    for (let j = 0; j < numCols; j++) {
      sums[j] -= inp[l + j];
      out[o + j] = sums[j] / cws;
    }
  }
}

function torben(m) {
  // Torben's median returns the ((n+1)/2)-th smallest value: for n=256, the 128th.
  const s = Float32Array.from(m).sort();
  return s[Math.floor((m.length + 1) / 2) - 1];
}

// Returns {hex, quality, dct: Float32Array(256)} exactly as pdqhash.compute.
export function pdqFromLuma(luma, numRows, numCols) {
  if (numRows < 5 || numCols < 5) {
    return { hex: "0".repeat(64), quality: 0, dct: new Float32Array(256) };
  }
  let A;
  if (numRows === 64 && numCols === 64) {
    // pdqFloat256FromFloatLuma: a 64x64 input is used as is (no blur).
    A = Float32Array.from(luma);
  } else {
    A = new Float32Array(64 * 64);
    const buf2 = new Float32Array(numRows * numCols);
    const wRows = jaroszWindow(numCols, 64);
    const wCols = jaroszWindow(numRows, 64);
    for (let rep = 0; rep < 2; rep++) {
      boxRows(luma, buf2, numRows, numCols, wRows);
      boxCols(buf2, luma, numRows, numCols, wCols);
    }
    for (let i = 0; i < 64; i++) {
      const ini = Math.trunc(((i + 0.5) * numRows) / 64);
      for (let j = 0; j < 64; j++) {
        const inj = Math.trunc(((j + 0.5) * numCols) / 64);
        A[i * 64 + j] = luma[ini * numCols + inj];
      }
    }
  }
  // quality
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = Math.trunc(fround(fround(fround(A[i * 64 + j] - A[(i + 1) * 64 + j]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = Math.trunc(fround(fround(fround(A[i * 64 + j] - A[i * 64 + j + 1]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  let quality = Math.floor(gradientSum / 90);
  if (quality > 100) quality = 100;
  // DCT 64x64 -> 16x16: B = D A D^T, float32
  const D = dctMatrix64();
  const T = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = fround(s + fround(D[i * 64 + k] * A[k * 64 + j]));
      T[i * 64 + j] = s;
    }
  }
  const B = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = fround(s + fround(T[i * 64 + k] * D[j * 64 + k]));
      B[i * 16 + j] = s;
    }
  }
  const med = torben(B);
  const words = new Uint16Array(16);
  for (let k = 0; k < 256; k++) {
    if (B[k] > med) words[k >> 4] |= 1 << (k & 15);
  }
  let hex = "";
  for (let w = 15; w >= 0; w--) hex += words[w].toString(16).padStart(4, "0");
  return { hex, quality, dct: B };
}

export function pdqFromRgb(rgb, width, height) {
  return pdqFromLuma(pdqLuma(rgb, width, height), height, width);
}

// Grey (Pillow "L") and PDQ luma of straight RGBA pixels in one pass, applying
// the alpha rule of rgbaToRgb on the fly (no intermediate RGB copy).
export function greyAndLumaFromRgba(rgba, width, height) {
  const n = width * height;
  const grey = new Uint8Array(n);
  const luma = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    let r = rgba[p];
    let g = rgba[p + 1];
    let b = rgba[p + 2];
    const a = rgba[p + 3];
    if (a !== 255) {
      const w = 255 - a;
      r = (((r * a + 127) / 255) | 0) + w;
      g = (((g * a + 127) / 255) | 0) + w;
      b = (((b * a + 127) / 255) | 0) + w;
    }
    grey[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    luma[i] = r * 0.299 + g * 0.587 + b * 0.114;
  }
  return { grey, luma };
}

// Both perceptual hashes of straight RGBA pixels (e.g. from getImageData).
export function perceptualHashes(rgba, width, height) {
  const { grey, luma } = greyAndLumaFromRgba(rgba, width, height);
  const ph = phashFromGrey32(resizeLanczosL(grey, width, height, 32, 32));
  const pdq = pdqFromLuma(luma, height, width);
  return { pdq: pdq.hex, pdq_quality: pdq.quality, phash: ph };
}
