// A question's error message goes away as soon as its answer changes, so what stays on screen
// is only what still needs attention.
function clearError(name) {
  const message = document.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (!message) return;
  const id = message.id;
  message.closest(".has-error")?.classList.remove("has-error");
  message.remove();
  document.querySelectorAll(`[aria-describedby~="${CSS.escape(id)}"]`).forEach((element) => {
    const rest = element.getAttribute("aria-describedby").split(/\s+/).filter((x) => x !== id);
    if (rest.length) element.setAttribute("aria-describedby", rest.join(" "));
    else element.removeAttribute("aria-describedby");
  });
  document.getElementsByName(name).forEach((element) => element.removeAttribute("aria-invalid"));
}

for (const type of ["input", "change"]) {
  document.addEventListener(type, (event) => {
    const name = event.target?.name;
    if (name) clearError(name);
  });
}
