// Constants and file sniffing shared by hashing.js and hash-worker.js.
// Must stay identical to disrupt/hashing/pipeline.py (PIPELINE_VERSION, sniff_kind).

export const PIPELINE_VERSION = "disrupt-hash-1;pillow-13.0.0;imagehash-4.3.2;pdqhash-0.2.8";

const HEIF_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"]);
const AVIF_BRANDS = new Set(["avif", "avis"]);
const QT_ATOMS = new Set(["moov", "mdat", "wide", "free", "skip", "pnot"]);

function ascii(b, from, to) {
  let s = "";
  for (let i = from; i < to && i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

// 'jpeg' | 'png' | 'gif' | 'webp' | 'heif' | 'avif' | 'video' | null
export function sniffKind(b) {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b[0] === 0x89 && ascii(b, 1, 8) === "PNG\r\n\x1a\n") return "png";
  const six = ascii(b, 0, 6);
  if (six === "GIF87a" || six === "GIF89a") return "gif";
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP") return "webp";
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "AVI ") return "video";
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "video";
  if (ascii(b, 4, 8) === "ftyp") {
    const brand = ascii(b, 8, 12);
    if (HEIF_BRANDS.has(brand)) return "heif";
    if (AVIF_BRANDS.has(brand)) return "avif";
    return "video";
  }
  if (QT_ATOMS.has(ascii(b, 4, 8))) return "video";
  return null;
}
