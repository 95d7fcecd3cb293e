// MD5 (RFC 1321) of an ArrayBuffer / Uint8Array, for video partners that still
// ask for it. WebCrypto has no MD5. Returns lowercase hex. Incremental, so a
// large video is processed in 1 MiB slices without copying it.

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
  20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6,
  10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;

function block(state, words) {
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let i = 0; i < 64; i++) {
    let f;
    let g;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const t = d;
    d = c;
    c = b;
    const x = (a + f + K[i] + words[g]) | 0;
    b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) | 0;
    a = t;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

export function md5(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  const words = new Int32Array(16);
  const n = bytes.length;
  const full = n - (n % 64);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < full; off += 64) {
    for (let i = 0; i < 16; i++) words[i] = dv.getInt32(off + i * 4, true);
    block(state, words);
  }
  // padding
  const restLen = n - full;
  const tail = new Uint8Array(restLen < 56 ? 64 : 128);
  tail.set(bytes.subarray(full));
  tail[restLen] = 0x80;
  const bitLenLo = (n * 8) >>> 0;
  const bitLenHi = Math.floor(n / 0x20000000) >>> 0;
  const tdv = new DataView(tail.buffer);
  tdv.setUint32(tail.length - 8, bitLenLo, true);
  tdv.setUint32(tail.length - 4, bitLenHi, true);
  for (let off = 0; off < tail.length; off += 64) {
    for (let i = 0; i < 16; i++) words[i] = tdv.getInt32(off + i * 4, true);
    block(state, words);
  }
  let hex = "";
  const out = new DataView(state.buffer);
  for (let i = 0; i < 16; i++) hex += out.getUint8(i).toString(16).padStart(2, "0");
  return hex;
}
