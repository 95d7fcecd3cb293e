// "Leave this site": the red button, or Shift pressed three times, replaces this page with a
// neutral one. location.replace keeps the current page out of the back history, and the
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

let presses = [];
document.addEventListener("keydown", (event) => {
  if (event.key !== "Shift" || event.repeat) return;
  const now = Date.now();
  presses = presses.filter((t) => now - t < 2000);
  presses.push(now);
  if (presses.length >= 3) leave();
});

// A page restored from the back-forward cache would show what was on screen: reload it, so
// the server decides what to show.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
