document.getElementById("print-credentials")?.addEventListener("click", () => window.print());
