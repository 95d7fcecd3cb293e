// The file picker of the case forms: each picked file is hashed on this device by the hashing
// module, and only the hash objects go into the form. The files themselves never leave.
import {
  CanvasNoiseError,
  UnsupportedMediaError,
  hashFile,
  selfTest,
  sniffKind,
  weakness,
} from "./hashing/hashing.js";

const box = document.getElementById("image-picker");
const picker = document.getElementById("file-picker");
const list = document.getElementById("hash-list");
const status = document.getElementById("hash-status");
const field = document.getElementById("hashes");
const form = field?.form;
const submit = form?.querySelector("button[type=submit]");
const msg = box ? box.dataset : {};

let hashes = [];
try {
  hashes = field?.value ? JSON.parse(field.value) : [];
} catch {
  hashes = [];
}
let ready = null;  // the self-test, run once

const PICTURE_NAME = /\.(jpe?g|png|gif|webp|heic|heif|avif|bmp|tiff?)$/i;
const VIDEO_NAME = /\.(mp4|mov|m4v|webm|mkv|avi|3gp)$/i;

/** Why a file gave no fingerprint, in the victim's words: from its first bytes and name. */
async function failureReason(file, error) {
  if (error instanceof CanvasNoiseError) return msg.msgNoise;
  let head = new Uint8Array(0);
  try {
    head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  } catch {
    return msg.msgUnreadable;
  }
  if (!head.length) return msg.msgEmpty;
  if (String.fromCharCode(...head.slice(0, 5)) === "%PDF-") return msg.msgPdf;
  const kind = sniffKind(head);
  if (kind === "avif") return msg.msgAvif;
  if (kind === null) {
    const claimed = PICTURE_NAME.test(file.name) || VIDEO_NAME.test(file.name)
      || /^(image|video)\//.test(file.type || "");
    return claimed ? msg.msgNameLies : msg.msgNotPicture;
  }
  if (error instanceof UnsupportedMediaError && /too large/i.test(error.message)) {
    return msg.msgTooLarge;
  }
  return error instanceof UnsupportedMediaError ? msg.msgDamaged : msg.msgUnreadable;
}

let failures = 0;

/** The status line sums up the list: never left on "Getting ready…". */
function showStatus() {
  status.classList.remove("error");
  const parts = [];
  if (hashes.length) parts.push(msg.msgCount.replace("{count}", String(hashes.length)));
  if (failures) parts.push(msg.msgSomeFailed.replace("{count}", String(failures)));
  status.textContent = parts.join(" ");
}

function save() {
  field.value = hashes.length ? JSON.stringify(hashes) : "";
  showStatus();
}

/** The victim gave a new answer: the fingerprints' error from the server goes away
 * (form-errors.js listens for "change"; a hidden field never fires one by itself). */
function answerChanged() {
  field?.dispatchEvent(new Event("change", { bubbles: true }));
}

function addRow(name, entry) {
  const item = document.createElement("li");
  const title = document.createElement("span");
  title.className = "file-name";
  title.textContent = name;
  const text = document.createElement("span");
  text.className = "file-state";
  item.append(title, text);
  list.append(item);
  return { item, text };
}

function removeButton(onRemove) {
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button small";
  remove.textContent = msg.msgRemove;
  remove.addEventListener("click", () => {
    onRemove();
    picker.focus();
  });
  return remove;
}

function addFailedControls(item) {
  const controls = document.createElement("span");
  controls.className = "file-controls";
  controls.append(removeButton(() => {
    item.remove();
    failures -= 1;
    showStatus();
  }));
  item.append(controls);
}

function addControls(item, entry) {
  const id = `label-${Math.random().toString(36).slice(2)}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = msg.msgName;
  const input = document.createElement("input");
  input.type = "text";
  input.id = id;
  input.maxLength = 80;
  input.autocomplete = "off";
  input.value = entry.label || "";
  input.addEventListener("input", () => {
    entry.label = input.value.trim() || undefined;
    save();
  });
  const remove = removeButton(() => {
    hashes = hashes.filter((h) => h !== entry);
    item.remove();
    save();
    answerChanged();
  });
  const controls = document.createElement("span");
  controls.className = "file-controls";
  controls.append(label, input, remove);
  item.append(controls);
}

async function checkBrowser() {
  if (!ready) {
    status.textContent = msg.msgSelftest;
    ready = selfTest().then(() => true, (error) => {
      status.textContent = error instanceof CanvasNoiseError ? msg.msgNoise : msg.msgBrowser;
      status.classList.add("error");
      return false;
    });
  }
  return ready;
}

picker?.addEventListener("change", async () => {
  const files = Array.from(picker.files || []);
  if (!files.length) return;
  answerChanged();
  if (submit) submit.disabled = true;
  try {
    if (!(await checkBrowser())) return;
    for (const file of files) {
      const { item, text } = addRow(file.name);
      text.textContent = msg.msgComputing;
      try {
        const result = await hashFile(file, {
          onProgress: ({ fraction }) => {
            if (typeof fraction === "number") {
              text.textContent = `${msg.msgComputing} ${Math.round(fraction * 100)} %`;
            }
          },
        });
        const entry = { ...result };
        hashes.push(entry);
        text.textContent = weakness(result) ? msg.msgWeak : msg.msgReady;
        addControls(item, entry);
        save();
      } catch (error) {
        text.textContent = await failureReason(file, error);
        item.classList.add("error");
        failures += 1;
        addFailedControls(item);
      }
    }
    showStatus();
  } finally {
    picker.value = "";  // the form never carries the files
    if (submit) submit.disabled = false;
  }
});

form?.addEventListener("submit", () => {
  if (picker) picker.value = "";
  if (field) save();
});

// After an answer the server refused, the fingerprints it sent back are listed again, so
// they can be checked, named or removed without choosing the files again.
if (field && list) {
  hashes.forEach((entry, index) => {
    const name = entry.label
      || (entry.kind === "video" ? msg.msgVideo : msg.msgPicture).replace("{n}", String(index + 1));
    const { item, text } = addRow(name);
    text.textContent = msg.msgKept;
    addControls(item, entry);
  });
  if (hashes.length) save();
}
