// The file picker of the case forms: each picked file is hashed on this device by the hashing
// module, and only the hash objects go into the form. The files themselves never leave.
import { CanvasNoiseError, hashFile, selfTest, weakness } from "./hashing/hashing.js";

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

function save() {
  field.value = hashes.length ? JSON.stringify(hashes) : "";
  status.textContent = hashes.length ? msg.msgCount.replace("{count}", String(hashes.length)) : "";
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
  input.addEventListener("input", () => {
    entry.label = input.value.trim() || undefined;
    save();
  });
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button small";
  remove.textContent = msg.msgRemove;
  remove.addEventListener("click", () => {
    hashes = hashes.filter((h) => h !== entry);
    item.remove();
    save();
    picker.focus();
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
      status.textContent = error instanceof CanvasNoiseError ? msg.msgNoise : msg.msgFailed;
      status.classList.add("error");
      return false;
    });
  }
  return ready;
}

picker?.addEventListener("change", async () => {
  const files = Array.from(picker.files || []);
  if (!files.length) return;
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
        text.textContent = error instanceof CanvasNoiseError ? msg.msgNoise : msg.msgFailed;
        item.classList.add("error");
      }
    }
  } finally {
    picker.value = "";  // the form never carries the files
    if (submit) submit.disabled = false;
  }
});

form?.addEventListener("submit", () => {
  if (picker) picker.value = "";
  if (field) save();
});

if (field && hashes.length) save();
