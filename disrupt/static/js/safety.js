// "Leave this site": the button, or Shift pressed three times, replaces this page with a
// neutral one. location.replace keeps the portal page out of the back history.
const NEUTRAL = "https://www.wikipedia.org/";

function leave(event) {
  if (event) event.preventDefault();
  document.body.textContent = "";
  document.title = "Wikipedia";
  window.location.replace(NEUTRAL);
}

document.getElementById("leave-site")?.addEventListener("click", leave);

let presses = [];
document.addEventListener("keydown", (event) => {
  if (event.key !== "Shift" || event.repeat) return;
  const now = Date.now();
  presses = presses.filter((t) => now - t < 1500);
  presses.push(now);
  if (presses.length >= 3) leave();
});
