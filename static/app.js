// Progressive enhancement only: every page works without this file.
// - "Invite Team Member" opens the invite <dialog> instead of navigating to the form page;
//   Tab and Shift+Tab stay inside the modal dialog, Escape (or Close, or a click on the
//   backdrop) closes it, and focus returns to the control that opened it.
// - Submit buttons say they are working while their form submits, and cannot submit twice.
// - Flash messages stay until dismissed; the Dismiss button exists only with this script.
// - "Copy" beside a read-only field (a new invite link) copies it; without this script the
//   field is there to select, and the button stays hidden.
"use strict";

const FOCUSABLE = [
  "a[href]", "button:not([disabled])", "input:not([type=hidden]):not([disabled])",
  "select:not([disabled])", "textarea:not([disabled])", "summary", "[tabindex]:not([tabindex='-1'])",
].join(",");

function focusableIn(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
}

function enhanceDialog(opener) {
  const dialog = document.getElementById(opener.dataset.openDialog);
  if (!dialog || typeof dialog.showModal !== "function") return;
  let returnTo = opener;
  // With this script the link opens a dialog in place: say so, and act as a button does
  // (Space as well as Enter).
  opener.setAttribute("role", "button");
  opener.setAttribute("aria-haspopup", "dialog");
  opener.addEventListener("keydown", (event) => {
    if (event.key === " ") {
      event.preventDefault();
      opener.click();
    }
  });
  opener.addEventListener("click", (event) => {
    event.preventDefault();
    returnTo = opener;
    dialog.showModal();
    const first = dialog.querySelector("textarea, input:not([type=hidden]), select");
    if (first) first.focus();
  });
  // A modal dialog makes the page behind it inert, but Tab can still leave the document
  // (to the browser's own controls); wrap around instead so keyboard users stay in the form.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const items = focusableIn(dialog);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });
  // A click on the backdrop lands on the <dialog> element itself, outside its content box.
  dialog.addEventListener("click", (event) => {
    if (event.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    const inside = event.clientX >= r.left && event.clientX <= r.right &&
      event.clientY >= r.top && event.clientY <= r.bottom;
    if (!inside) dialog.close();
  });
  dialog.addEventListener("close", () => returnTo.focus());
  dialog.querySelectorAll("[data-close-dialog]").forEach((b) => b.addEventListener("click", () => dialog.close()));
}

function enhanceCopy(button) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const status = button.closest(".copy-field")?.querySelector(".copy-status");
  button.hidden = false;
  field.addEventListener("focus", () => field.select());
  button.addEventListener("click", async () => {
    field.focus();
    field.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(field.value);
      copied = true;
    } catch {
      // Older browsers or an insecure context: the text is selected for Ctrl+C instead.
      copied = typeof document.execCommand === "function" && document.execCommand("copy");
    }
    if (status) status.textContent = copied ? "Copied to the clipboard." : "Press Ctrl+C (or ⌘C) to copy.";
    if (copied) button.textContent = button.dataset.copiedLabel || "Copied";
  });
}

function showBusy(form, event) {
  const button = event.submitter || form.querySelector("button[type=submit]");
  if (!button || button.dataset.busy) return;
  button.dataset.busy = "1";
  button.dataset.idleHtml = button.innerHTML;
  button.setAttribute("aria-busy", "true");
  // A table of the Team page is one form for every row's button: the label is the form's
  // unless the button has its own.
  const label = button.dataset.busyLabel || form.dataset.busyLabel;
  if (label) button.textContent = label;
  // Keep the button from submitting twice, but let this submission through first.
  setTimeout(() => { button.disabled = true; }, 0);
}

// Back/forward restores a page from the cache as it was left: with its button still busy.
function resetBusy() {
  document.querySelectorAll("button[data-busy]").forEach((button) => {
    button.innerHTML = button.dataset.idleHtml;
    button.removeAttribute("aria-busy");
    button.disabled = false;
    delete button.dataset.busy;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-open-dialog]").forEach(enhanceDialog);
  document.querySelectorAll("button[data-copy]").forEach(enhanceCopy);
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => showBusy(form, event));
  });
  document.querySelectorAll("[data-dismiss]").forEach((b) => {
    b.hidden = false;
    b.addEventListener("click", () => {
      const message = b.closest(".flash");
      // Keep keyboard focus in the page rather than on a removed button.
      const main = document.getElementById("main");
      message?.remove();
      main?.focus({ preventScroll: true });
    });
  });
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted) resetBusy();
});
