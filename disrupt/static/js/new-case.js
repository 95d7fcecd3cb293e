// The case form: the guidance for images made before 18 shows when that answer is chosen.
const guidance = document.getElementById("minor-guidance");
const radios = document.querySelectorAll('input[name="age_group"]');

function update() {
  const minor = document.querySelector('input[name="age_group"]:checked')?.value === "minor";
  if (guidance) guidance.hidden = !minor;
}

radios.forEach((radio) => radio.addEventListener("change", update));
update();
document.getElementById("error-summary")?.focus();
