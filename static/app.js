// Progressive enhancement only: every page works without this file.
// - "Invite Team Member" opens the invite <dialog> instead of navigating to the form page;
//   focus stays inside the modal dialog, Escape closes it, and focus returns to the button.
// - Submit buttons say they are working while their form submits.
// - Flash messages can be dismissed.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-open-dialog]").forEach((opener) => {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (!dialog || typeof dialog.showModal !== "function") return;
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("textarea, input:not([type=hidden]), select");
      if (first) first.focus();
    });
    dialog.addEventListener("close", () => opener.focus());
    dialog.querySelectorAll("[data-close-dialog]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  });
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const button = event.submitter || form.querySelector("button[type=submit]");
      if (!button || button.dataset.busy) return;
      button.dataset.busy = "1";
      button.setAttribute("aria-busy", "true");
      if (button.dataset.busyLabel) button.textContent = button.dataset.busyLabel;
      // Keep the button from submitting twice, but let this submission through first.
      setTimeout(() => { button.disabled = true; }, 0);
    });
  });
  document.querySelectorAll("[data-dismiss]").forEach((b) => {
    b.addEventListener("click", () => b.closest(".flash")?.remove());
  });
});
