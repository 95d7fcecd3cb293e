// The case reference and secret code, printed or saved as a text file on this device.
document.getElementById("print-credentials")?.addEventListener("click", () => window.print());

document.getElementById("save-credentials")?.addEventListener("click", (event) => {
  const button = event.currentTarget;
  const blob = new Blob([button.dataset.text], { type: "text/plain;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = button.dataset.filename || "case.txt";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});
