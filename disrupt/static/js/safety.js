// "Leave this site": the red button, or the Shift key tapped three times, replaces this page
// with a neutral one. location.replace keeps the current page out of the back history, and the
// beacon closes the case page in this browser, so going back shows no case.
const button = document.getElementById("leave-site");
const NEUTRAL = button?.href || "https://www.wikipedia.org/";
let leaving = false;

function closeCasePage() {
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  if (!token || !navigator.sendBeacon) return;
  const data = new FormData();
  data.append("csrf_token", token);
  navigator.sendBeacon("/case/leave", data);
}

function leave(event) {
  if (event) event.preventDefault();
  if (leaving) return;
  leaving = true;
  closeCasePage();
  document.title = "";
  document.body.replaceChildren();
  window.location.replace(NEUTRAL);
}

button?.addEventListener("click", leave);

// Only a lone Shift tap counts: pressed and released with no other key in between (Shift
// held for a capital letter never counts), three taps each within a second of the last.
const TAP_GAP_MS = 1000;
let taps = [];
let shiftDown = false;
let shiftAlone = false;
document.addEventListener("keydown", (event) => {
  if (event.key !== "Shift") {
    shiftAlone = false;
    taps = [];
    return;
  }
  if (event.repeat) {
    shiftAlone = false;
    return;
  }
  shiftDown = true;
  shiftAlone = true;
}, true);
document.addEventListener("keyup", (event) => {
  if (event.key !== "Shift" || !shiftDown) return;
  shiftDown = false;
  if (!shiftAlone) {
    taps = [];
    return;
  }
  const now = Date.now();
  if (taps.length && now - taps[taps.length - 1] > TAP_GAP_MS) taps = [];
  taps.push(now);
  if (taps.length >= 3) leave();
}, true);
document.addEventListener("pointerdown", () => {
  shiftAlone = false;
  taps = [];
}, true);

// A page restored from the back-forward cache would show what was on screen: reload it, so
// the server decides what to show.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
