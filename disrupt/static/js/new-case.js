// The case form's file picker: hashes each picked file on this device with the hashing
// module and puts only the hash objects into the form. The files themselves never leave.
import { hashFile } from "./hashing/hashing.js";

const picker = document.getElementById("file-picker");
const list = document.getElementById("hash-list");
const status = document.getElementById("hash-status");
const field = document.getElementById("hashes");
const form = document.getElementById("case-form");
const submit = form.querySelector("button[type=submit]");

let hashes = [];
try {
  hashes = field.value ? JSON.parse(field.value) : [];
} catch {
  hashes = [];
}
if (hashes.length) status.textContent = `${hashes.length} image fingerprint(s) ready.`;

function save() {
  field.value = JSON.stringify(hashes);
}

function addRow(file) {
  const item = document.createElement("li");
  if (file.type.startsWith("image/")) {
    const thumb = document.createElement("img");
    thumb.alt = "";
    thumb.width = 64;
    thumb.src = URL.createObjectURL(file);
    thumb.addEventListener("load", () => URL.revokeObjectURL(thumb.src), { once: true });
    item.append(thumb);
  }
  const text = document.createElement("span");
  text.textContent = "Computing fingerprint…";
  item.append(text);
  list.append(item);
  return text;
}

picker?.addEventListener("change", async () => {
  const files = Array.from(picker.files || []);
  if (!files.length) return;
  submit.disabled = true;
  let done = 0;
  for (const file of files) {
    const label = addRow(file);
    try {
      const result = await hashFile(file, {
        onProgress: (fraction) => {
          label.textContent = `Computing fingerprint… ${Math.round(fraction * 100)} %`;
        },
      });
      const entry = { ...result };
      hashes.push(entry);
      save();
      label.textContent = result.weak
        ? "Fingerprint ready, but the image is too small or too plain to be recognised reliably."
        : "Fingerprint ready.";
    } catch (error) {
      label.textContent = error.message || "This file could not be read.";
      label.classList.add("error");
    }
    done += 1;
    status.textContent = `${done} of ${files.length} file(s) done.`;
  }
  picker.value = "";  // the form never carries the files
  submit.disabled = false;
});

form.addEventListener("submit", () => {
  if (picker) picker.value = "";
  save();
});
