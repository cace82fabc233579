// Small behaviours that htmx does not cover. Pages work without this file.
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status === 413 || xhr.status === 400 || xhr.status >= 500) {
    const box = document.getElementById("request-error") || document.createElement("div");
    box.id = "request-error";
    box.className = "notice notice-error";
    box.setAttribute("role", "alert");
    box.textContent = xhr.status === 413
      ? "That was too large to send. Shorten it and try again; nothing was saved."
      : `The server answered ${xhr.status}. Nothing was saved; try again.`;
    document.querySelector("main").prepend(box);
  }
});
